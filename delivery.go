package baleen

import (
	"context"
	"encoding/json"
	"time"
)

// DeliveryStatus is where one notification delivery stands.
type DeliveryStatus string

// The statuses of a delivery. A delivery is pending until it is delivered, it is given up (failed) after
// its retries ran out, or it is coalesced into a digest delivery that carries it.
const (
	DeliveryPending   DeliveryStatus = "pending"
	DeliveryDelivered DeliveryStatus = "delivered"
	DeliveryFailed    DeliveryStatus = "failed"
	DeliveryCoalesced DeliveryStatus = "coalesced"
)

// Delivery is one notification queued for one sink (a webhook, a mail server, a chat room), with the record
// of its attempts. It never holds a secret: the sink's URL, password or token is read when it is sent.
type Delivery struct {
	// ID numbers the deliveries of the server from 1.
	ID   int64  `json:"id"`
	Sink string `json:"sink"`
	// Event is the notification's event (failed, fixed, ..., or digest).
	Event   string `json:"event"`
	Project string `json:"project"`
	Build   int    `json:"build,omitempty"`
	// Message is the notification, in the sink-independent form that each sink renders.
	Message json.RawMessage `json:"message"`
	Status  DeliveryStatus  `json:"status"`
	// Attempts counts the sending attempts made so far.
	Attempts int       `json:"attempts"`
	Created  time.Time `json:"created"`
	// Next is when the next attempt is due, while the delivery is pending.
	Next time.Time `json:"next,omitzero"`
	Last time.Time `json:"last,omitzero"`
	// Code is the last attempt's HTTP status code or SMTP reply code; 0 when none came back.
	Code int `json:"code,omitempty"`
	// Error says why the last attempt failed, without any secret.
	Error string `json:"error,omitempty"`
	// Redelivers is the delivery this one sends again; Digest the digest delivery that carries this one.
	Redelivers int64 `json:"redelivers,omitempty"`
	Digest     int64 `json:"digest,omitempty"`
}

// DeliveryPatch changes the fields of a Delivery that are set in it.
type DeliveryPatch struct {
	Status   *DeliveryStatus
	Attempts *int
	Next     *time.Time
	Last     *time.Time
	Code     *int
	Error    *string
	Digest   *int64
}

// DeliveryFilter narrows a listing of deliveries.
type DeliveryFilter struct {
	Sink string
	// Statuses keeps only deliveries in one of these; all when empty.
	Statuses []DeliveryStatus
	// Limit caps the number returned, newest first; all when 0.
	Limit int
}

// DeliveryStore keeps the notification queue on disk, so that a restart loses no notification. Every method
// is safe for concurrent use.
type DeliveryStore interface {
	// CreateDelivery records d with the next ID and returns it.
	CreateDelivery(ctx context.Context, d Delivery) (Delivery, error)
	// Delivery returns one delivery; ErrNotFound if it does not exist.
	Delivery(ctx context.Context, id int64) (Delivery, error)
	// Deliveries lists deliveries, newest first.
	Deliveries(ctx context.Context, f DeliveryFilter) ([]Delivery, error)
	// PendingDeliveries lists the pending deliveries, oldest first, from an index kept apart from the log.
	PendingDeliveries(ctx context.Context) ([]Delivery, error)
	// UpdateDelivery applies p to a delivery and returns the result.
	UpdateDelivery(ctx context.Context, id int64, p DeliveryPatch) (Delivery, error)
	// PruneDeliveries deletes the deliveries that are no longer pending and were created before before,
	// and returns how many it deleted.
	PruneDeliveries(ctx context.Context, before time.Time) (int, error)
}
