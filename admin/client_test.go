package admin_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/swarmdns/swarmdns/admin"
	"github.com/swarmdns/swarmdns/internal/await"
)

func TestClientAgainstServer(t *testing.T) {
	var synced atomic.Bool
	var level atomic.Int32
	s, _ := startServer(t, admin.Config{
		Token: "tok", Version: "v9",
		Ready:       []admin.Check{{Name: "docker-sync", Ready: func() error { return errIf(!synced.Load(), "not yet") }}},
		LogLevel:    func() zerolog.Level { return zerolog.Level(level.Load()) },
		SetLogLevel: func(l zerolog.Level) { level.Store(int32(l)) },
	})
	c, err := admin.NewClient(s.Addr().String(), "tok", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if ms, err := c.Members(ctx); err != nil || len(ms.Members) != 2 {
		t.Errorf("Members: got %+v, %v", ms, err)
	}
	if rs, err := c.Records(ctx, admin.RecordFilter{Node: "n2", Name: "web"}); err != nil || len(rs.Records) != 1 {
		t.Errorf("Records: got %+v, %v", rs, err)
	}
	if v, err := c.Version(ctx); err != nil || v.Version != "v9" {
		t.Errorf("Version: got %+v, %v", v, err)
	}
	rd, err := c.Ready(ctx)
	if err != nil || rd.Ready || len(rd.Checks) != 1 || rd.Checks[0].Error != "not yet" {
		t.Errorf("Ready before sync: got %+v, %v; want not ready without error", rd, err)
	}
	synced.Store(true)
	if rd, err := c.Ready(ctx); err != nil || !rd.Ready {
		t.Errorf("Ready after sync: got %+v, %v", rd, err)
	}
	if got, err := c.SetLogLevel(ctx, "debug"); err != nil || got != "debug" {
		t.Errorf("SetLogLevel: got %q, %v", got, err)
	}
	if got, err := c.LogLevel(ctx); err != nil || got != "debug" {
		t.Errorf("LogLevel: got %q, %v", got, err)
	}
	_, err = c.SetLogLevel(ctx, "loud")
	var ae *admin.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || !strings.Contains(ae.Message, "loud") {
		t.Errorf("SetLogLevel(loud): got %v; want a 400 APIError naming the level", err)
	}
	_, err = c.Lookup(ctx, "web", "A", "")
	if !errors.As(err, &ae) || ae.Status != http.StatusNotImplemented {
		t.Errorf("Lookup without explainer: got %v; want 501", err)
	}

	wrong, _ := admin.NewClient("http://"+s.Addr().String()+"/", "bad", time.Second)
	_, err = wrong.Members(ctx)
	if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized || errors.Is(err, admin.ErrUnreachable) {
		t.Errorf("wrong token: got %v; want a 401 APIError", err)
	}
}

func errIf(cond bool, msg string) error {
	if cond {
		return errors.New(msg)
	}
	return nil
}

func TestClientUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c, err := admin.NewClient(addr, "", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Stats(context.Background())
	if !errors.Is(err, admin.ErrUnreachable) || !strings.Contains(err.Error(), addr) {
		t.Errorf("got %v; want ErrUnreachable naming %s", err, addr)
	}

	// A listener that never answers: the timeout ends the call.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	c, _ = admin.NewClient(silent.Addr().String(), "", 100*time.Millisecond)
	if _, err := c.Members(context.Background()); !errors.Is(err, admin.ErrUnreachable) {
		t.Errorf("silent server: got %v; want ErrUnreachable", err)
	}
}

func TestNewClientBadAddress(t *testing.T) {
	for _, addr := range []string{"", "ftp://host:1", "http://", "%zz"} {
		if _, err := admin.NewClient(addr, "", time.Second); err == nil {
			t.Errorf("%q: got nil error", addr)
		}
	}
}

func TestServerLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	s, err := admin.New(admin.Config{Listen: "127.0.0.1:0", Zone: testZone(t), Gatherer: prometheus.NewRegistry(), Logger: zerolog.New(zerolog.NewTestWriter(t))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	c, _ := admin.NewClient(s.Addr().String(), "", 5*time.Second)
	for range 5 {
		if _, err := c.Stats(ctx); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	await.Until(t, 5*time.Second, func() error {
		if n := runtime.NumGoroutine(); n > before {
			return fmt.Errorf("got %d goroutines; want at most the %d from before the server", n, before)
		}
		return nil
	})
}
