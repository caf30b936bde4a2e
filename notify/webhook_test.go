package notify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/baleen-ci/baleen"
	"github.com/baleen-ci/baleen/api"
	"github.com/baleen-ci/baleen/notify"
	"github.com/google/go-cmp/cmp"
)

func webhookSink(url, secretFile string, events ...string) notify.Sink {
	return notify.Sink{Name: "team-hook", Events: events, Webhook: &notify.WebhookConfig{URL: url, SecretFile: secretFile}}
}

func validated(t *testing.T, sinks ...notify.Sink) []notify.Sink {
	t.Helper()
	if err := notify.ValidateConfig(sinks); err != nil {
		t.Fatal(err)
	}
	return sinks
}

func links(p string, b int) *notify.Links {
	u := "https://ci.example.com/" + p + "/builds/" + strconv.Itoa(b)
	return &notify.Links{Build: u, Log: u + "/log"}
}

// A webhook that fails its first two attempts gets the third; each attempt is recorded, the body is signed
// and carries what the schema in docs/notify.md says, and the secret appears nowhere.
func TestWebhookRetriesUntilDelivered(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	rcv := newReceiver(t, testSecret, 2)
	secretFile := writeFile(t, "hook", testSecret+"\n")
	sinks := validated(t, webhookSink(rcv.URL+"/baleen", secretFile, "failed", "fixed"))
	_, bus, _ := startNotifier(t, notify.Options{
		Sinks: sinks, Deliveries: st, History: st, Window: time.Millisecond, FirstRetry: 10 * time.Millisecond,
		Links: links,
	})

	record(t, st, spec{status: baleen.StatusPassed, coverage: 80})
	b := record(t, st, spec{status: baleen.StatusFailed, failures: []string{"cart.TestAdd"}, coverage: 78.5})
	bus.Publish(finished(b))

	waitFor(t, "the delivery", func() bool { return len(rcv.received()) == 1 })
	got := rcv.received()[0]
	cov, delta := 78.5, -1.5
	want := notify.Message{
		Version: 1, Event: "failed", Project: "shop-api", Build: 2, Commit: b.Commit, Branch: "main",
		Pusher: "SHA256:abc", Verdict: "failed", Reason: "tests failed", FailedStage: "test", FailingFor: 1,
		Tests:        &notify.Tests{Passed: 10, Failed: 1},
		FailingTests: []notify.FailingTest{{Name: "cart.TestAdd", Message: "cart.TestAdd broke\nstack", Since: 2}},
		Coverage:     &cov, CoverageDelta: &delta, Links: links("shop-api", 2),
	}
	if diff := cmp.Diff(want, got, cmpMessage); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
	checkSchema(t, rcv.raw)
	h := rcv.headers[0]
	if h.Get("X-Baleen-Event") != "failed" || h.Get("Content-Type") != "application/json" {
		t.Errorf("headers: got %v", h)
	}

	ds, err := st.Deliveries(context.Background(), baleen.DeliveryFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 {
		t.Fatalf("got %d deliveries, want 1", len(ds))
	}
	d := ds[0]
	if d.Status != baleen.DeliveryDelivered || d.Attempts != 3 || d.Code != 200 || d.Error != "" {
		t.Errorf("delivery: got status %s, %d attempts, code %d, error %q; want delivered, 3, 200, none", d.Status, d.Attempts, d.Code, d.Error)
	}
	if h.Get("X-Baleen-Delivery") != strconv.FormatInt(d.ID, 10) {
		t.Errorf("X-Baleen-Delivery: got %q, want %d", h.Get("X-Baleen-Delivery"), d.ID)
	}
	if rcv.bad != 0 {
		t.Errorf("%d requests failed signature checks", rcv.bad)
	}

	hook, err := st.Deliveries(context.Background(), baleen.DeliveryFilter{Sink: "team-hook"})
	if err != nil {
		t.Fatal(err)
	}
	var table bytes.Buffer
	if err := notify.WriteDeliveryTable(&table, hook); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "shop-api#2") || !strings.Contains(table.String(), "delivered") {
		t.Errorf("deliveries table lacks the delivery:\n%s", table.String())
	}
	js, err := json.Marshal(api.NewDeliveries(ds))
	if err != nil {
		t.Fatal(err)
	}
	assertNoSecret(t, st, dir, testSecret, table.String(), string(js))
}

// assertNoSecret checks that secret appears in none of outs, nor in the files of the store in dir.
func assertNoSecret(t *testing.T, st interface{ Close() error }, dir, secret string, outs ...string) {
	t.Helper()
	for _, o := range outs {
		if strings.Contains(o, secret) {
			t.Errorf("secret leaked into output:\n%s", o)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("secret leaked into the store file %s", filepath.Base(path))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

var cmpMessage = cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Time" }, cmp.Ignore())

// A webhook whose receiver is down when the server stops keeps its delivery on disk; the next server
// sends it, counting the attempts of both.
func TestRestartInTheMiddleOfRetriesLosesNothing(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	down := newReceiver(t, testSecret, 1<<30)
	secretFile := writeFile(t, "hook", testSecret)
	sink := webhookSink(down.URL, secretFile, "failed")
	_, bus, stop := startNotifier(t, notify.Options{
		Sinks: validated(t, sink), Deliveries: st, History: st, Window: time.Millisecond,
		FirstRetry: 20 * time.Millisecond,
	})
	b := record(t, st, spec{status: baleen.StatusFailed, failures: []string{"a.TestA"}})
	bus.Publish(finished(b))
	waitFor(t, "two failed attempts", func() bool {
		ds, _ := st.PendingDeliveries(context.Background())
		return len(ds) == 1 && ds[0].Attempts >= 2
	})
	stop()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st2 := openStore(t, dir)
	pending, err := st2.PendingDeliveries(context.Background())
	if err != nil || len(pending) != 1 {
		t.Fatalf("after reopening: got %d pending deliveries (err %v), want 1", len(pending), err)
	}
	before := pending[0].Attempts
	if pending[0].Code != 503 || !strings.Contains(pending[0].Error, "503") {
		t.Errorf("recorded attempt: got code %d, error %q; want 503", pending[0].Code, pending[0].Error)
	}
	up := newReceiver(t, testSecret, 0)
	sink.Webhook.URL = up.URL
	startNotifier(t, notify.Options{
		Sinks: validated(t, sink), Deliveries: st2, History: st2, Window: time.Millisecond,
		FirstRetry: 20 * time.Millisecond,
	})
	waitFor(t, "the delivery after the restart", func() bool { return len(up.received()) == 1 })
	if m := up.received()[0]; m.Project != "shop-api" || m.Build != b.Number || m.Event != "failed" {
		t.Errorf("delivered: got %s#%d %s, want shop-api#%d failed", m.Project, m.Build, m.Event, b.Number)
	}
	waitFor(t, "the record of the delivery", func() bool {
		d, err := st2.Delivery(context.Background(), pending[0].ID)
		return err == nil && d.Status == baleen.DeliveryDelivered && d.Attempts == before+1
	})
}

// A wrong secret on the receiving side fails every attempt with 401; the delivery keeps the code, and is
// given up once its time is over.
func TestWebhookGivenUpAfterItsTime(t *testing.T) {
	st := openStore(t, t.TempDir())
	rcv := newReceiver(t, "another-secret", 0)
	_, bus, _ := startNotifier(t, notify.Options{
		Sinks:      validated(t, webhookSink(rcv.URL, writeFile(t, "hook", testSecret), "failed")),
		Deliveries: st, History: st, Window: time.Millisecond, FirstRetry: 10 * time.Millisecond,
		GiveUp: 200 * time.Millisecond,
	})
	bus.Publish(finished(record(t, st, spec{status: baleen.StatusFailed})))
	waitFor(t, "the delivery to be given up", func() bool {
		ds, _ := st.Deliveries(context.Background(), baleen.DeliveryFilter{Statuses: []baleen.DeliveryStatus{baleen.DeliveryFailed}})
		return len(ds) == 1
	})
	ds, _ := st.Deliveries(context.Background(), baleen.DeliveryFilter{})
	if d := ds[0]; d.Code != 401 || d.Attempts < 2 || len(rcv.received()) != 0 {
		t.Errorf("got code %d after %d attempts, %d accepted; want 401, 2 or more, 0", d.Code, d.Attempts, len(rcv.received()))
	}
	if rcv.bad != ds[0].Attempts {
		t.Errorf("receiver rejected %d requests, want %d", rcv.bad, ds[0].Attempts)
	}
}

// redeliver sends a delivered notification again as a new delivery that names the first.
func TestRedeliver(t *testing.T) {
	st := openStore(t, t.TempDir())
	rcv := newReceiver(t, testSecret, 0)
	n, bus, _ := startNotifier(t, notify.Options{
		Sinks:      validated(t, webhookSink(rcv.URL, writeFile(t, "hook", testSecret), "passed")),
		Deliveries: st, History: st, Window: time.Millisecond,
	})
	bus.Publish(finished(record(t, st, spec{status: baleen.StatusPassed})))
	waitFor(t, "the first delivery", func() bool { return len(rcv.received()) == 1 })
	ds, _ := st.Deliveries(context.Background(), baleen.DeliveryFilter{})
	nd, err := n.Redeliver(context.Background(), ds[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if nd.Redelivers != ds[0].ID || nd.ID == ds[0].ID {
		t.Errorf("redelivery: got id %d redelivering %d, want a new id redelivering %d", nd.ID, nd.Redelivers, ds[0].ID)
	}
	waitFor(t, "the redelivery", func() bool { return len(rcv.received()) == 2 })
	if a, b := rcv.received()[0], rcv.received()[1]; !cmp.Equal(a, b) {
		t.Errorf("redelivered body differs:\n%s", cmp.Diff(a, b))
	}
	if _, err := n.Redeliver(context.Background(), 999); err == nil {
		t.Error("redeliver of an unknown id: got no error")
	}
}

// A storm of builds within the window is sent as one digest; the deliveries it carries say so.
func TestStormIsCoalescedIntoADigest(t *testing.T) {
	st := openStore(t, t.TempDir())
	rcv := newReceiver(t, testSecret, 0)
	_, bus, _ := startNotifier(t, notify.Options{
		Sinks:      validated(t, webhookSink(rcv.URL, writeFile(t, "hook", testSecret), "passed", "failed")),
		Deliveries: st, History: st, Window: 2 * time.Second, DigestAt: 3,
	})
	var published []baleen.Build
	for i := range 5 {
		published = append(published, record(t, st, spec{status: baleen.StatusPassed, branch: "b" + strconv.Itoa(i)}))
	}
	for _, b := range published {
		bus.Publish(finished(b))
	}
	waitFor(t, "the digest", func() bool { return len(rcv.received()) >= 1 })
	waitFor(t, "every delivery to settle", func() bool {
		ds, _ := st.PendingDeliveries(context.Background())
		return len(ds) == 0
	})
	got := rcv.received()
	total := 0
	for _, m := range got {
		if m.Event == "digest" {
			total += len(m.Digest)
		} else {
			total++
		}
	}
	if total != 5 || len(got) != 1 {
		t.Fatalf("got %d requests carrying %d notifications, want 1 digest of 5", len(got), total)
	}
	if got[0].Event != "digest" {
		t.Fatalf("first request: got event %q, want digest", got[0].Event)
	}
	checkSchema(t, rcv.raw)
	ds, _ := st.Deliveries(context.Background(), baleen.DeliveryFilter{Statuses: []baleen.DeliveryStatus{baleen.DeliveryCoalesced}})
	if len(ds) != len(got[0].Digest) {
		t.Errorf("got %d coalesced deliveries, want %d", len(ds), len(got[0].Digest))
	}
	for _, d := range ds {
		if d.Digest == 0 {
			t.Errorf("delivery %d is coalesced into no digest", d.ID)
		}
	}
}
