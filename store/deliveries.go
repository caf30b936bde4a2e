package store

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/dgraph-io/badger/v4"
)

var _ baleen.DeliveryStore = (*Store)(nil)

// Deliveries are kept under "d/<id>", with "dq/<id>" (no value) marking the pending ones so that the
// notification worker finds its queue without reading the whole delivery log. "dn" holds the last ID.

func deliveryKey(id int64) []byte { return fmt.Appendf(nil, "d/%020d", id) }

func pendingKey(id int64) []byte { return fmt.Appendf(nil, "dq/%020d", id) }

var (
	deliveryPrefix   = []byte("d/")
	pendingPrefix    = []byte("dq/")
	lastDeliveryKey  = []byte("dn")
	deliveryKeyWidth = len(deliveryKey(0))
)

// CreateDelivery records d with the next delivery ID and returns it. A pending delivery joins the queue.
func (s *Store) CreateDelivery(ctx context.Context, d baleen.Delivery) (baleen.Delivery, error) {
	if d.Sink == "" {
		return baleen.Delivery{}, fmt.Errorf("create delivery: no sink: %w", baleen.ErrInvalid)
	}
	if d.Created.IsZero() {
		d.Created = time.Now().UTC()
	}
	if d.Status == "" {
		d.Status = baleen.DeliveryPending
	}
	s.createMu.Lock()
	defer s.createMu.Unlock()
	err := s.update(ctx, func(txn *badger.Txn) error {
		last, err := lastCounter(txn, lastDeliveryKey, "last delivery id")
		if err != nil {
			return err
		}
		d.ID = int64(last) + 1
		if err := putDelivery(txn, d); err != nil {
			return err
		}
		return txn.Set(lastDeliveryKey, []byte(strconv.FormatInt(d.ID, 10)))
	})
	if err != nil {
		return baleen.Delivery{}, fmt.Errorf("create delivery: %w", err)
	}
	return d, nil
}

// putDelivery writes d and keeps the pending index in step with its status.
func putDelivery(txn *badger.Txn, d baleen.Delivery) error {
	if err := set(txn, deliveryKey(d.ID), d); err != nil {
		return err
	}
	if d.Status == baleen.DeliveryPending {
		return txn.Set(pendingKey(d.ID), nil)
	}
	return txn.Delete(pendingKey(d.ID))
}

// Delivery returns one delivery; baleen.ErrNotFound if it does not exist.
func (s *Store) Delivery(ctx context.Context, id int64) (baleen.Delivery, error) {
	var d baleen.Delivery
	err := s.view(ctx, func(txn *badger.Txn) error { return get(txn, deliveryKey(id), &d) })
	if err != nil {
		return baleen.Delivery{}, notFound(fmt.Sprintf("delivery %d", id), err)
	}
	return d, nil
}

// Deliveries lists deliveries, newest first.
func (s *Store) Deliveries(ctx context.Context, f baleen.DeliveryFilter) ([]baleen.Delivery, error) {
	if f.Limit < 0 {
		return nil, fmt.Errorf("list deliveries: limit %d: %w", f.Limit, baleen.ErrInvalid)
	}
	var ds []baleen.Delivery
	err := s.view(ctx, func(txn *badger.Txn) error {
		opts := badger.IteratorOptions{Prefix: deliveryPrefix, PrefetchValues: true, PrefetchSize: 100, Reverse: true}
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Seek(append(slices.Clone(deliveryPrefix), 0xff)); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			if len(it.Item().Key()) != deliveryKeyWidth {
				continue
			}
			var d baleen.Delivery
			if err := it.Item().Value(func(b []byte) error { return decode(b, &d) }); err != nil {
				return fmt.Errorf("delivery %s: %w", it.Item().Key(), err)
			}
			if f.Sink != "" && d.Sink != f.Sink || len(f.Statuses) > 0 && !slices.Contains(f.Statuses, d.Status) {
				continue
			}
			ds = append(ds, d)
			if f.Limit > 0 && len(ds) >= f.Limit {
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	return ds, nil
}

// PendingDeliveries lists the pending deliveries, oldest first.
func (s *Store) PendingDeliveries(ctx context.Context) ([]baleen.Delivery, error) {
	var ds []baleen.Delivery
	err := s.view(ctx, func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: pendingPrefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			id, err := strconv.ParseInt(string(it.Item().Key()[len(pendingPrefix):]), 10, 64)
			if err != nil {
				return fmt.Errorf("pending delivery key %q: %w", it.Item().Key(), err)
			}
			var d baleen.Delivery
			if err := get(txn, deliveryKey(id), &d); err != nil {
				return notFound(fmt.Sprintf("delivery %d", id), err)
			}
			ds = append(ds, d)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list pending deliveries: %w", err)
	}
	return ds, nil
}

// UpdateDelivery applies p to a delivery and returns the result.
func (s *Store) UpdateDelivery(ctx context.Context, id int64, p baleen.DeliveryPatch) (baleen.Delivery, error) {
	var d baleen.Delivery
	err := s.update(ctx, func(txn *badger.Txn) error {
		if err := get(txn, deliveryKey(id), &d); err != nil {
			return notFound(fmt.Sprintf("delivery %d", id), err)
		}
		applyDelivery(&d, p)
		return putDelivery(txn, d)
	})
	if err != nil {
		return baleen.Delivery{}, fmt.Errorf("update delivery: %w", err)
	}
	return d, nil
}

func applyDelivery(d *baleen.Delivery, p baleen.DeliveryPatch) {
	setIf(&d.Status, p.Status)
	setIf(&d.Attempts, p.Attempts)
	setIf(&d.Next, p.Next)
	setIf(&d.Last, p.Last)
	setIf(&d.Code, p.Code)
	setIf(&d.Error, p.Error)
	setIf(&d.Digest, p.Digest)
}

func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// PruneDeliveries deletes the deliveries that are not pending and were created before before. Deliveries are
// numbered in the order they are made, so it stops at the first one made since.
func (s *Store) PruneDeliveries(ctx context.Context, before time.Time) (int, error) {
	var old []int64
	err := s.view(ctx, func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: deliveryPrefix, PrefetchValues: true, PrefetchSize: 100})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var d baleen.Delivery
			if err := it.Item().Value(func(b []byte) error { return decode(b, &d) }); err != nil {
				return fmt.Errorf("delivery %s: %w", it.Item().Key(), err)
			}
			if !d.Created.Before(before) {
				return nil
			}
			if d.Status != baleen.DeliveryPending {
				old = append(old, d.ID)
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("prune deliveries: %w", err)
	}
	for chunk := range slices.Chunk(old, 1000) {
		err := s.update(ctx, func(txn *badger.Txn) error {
			for _, id := range chunk {
				if err := txn.Delete(deliveryKey(id)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("prune deliveries: %w", err)
		}
	}
	return len(old), nil
}
