package main

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/acme/go-gateway/internal/auth"
	"github.com/acme/go-gateway/internal/upstream"
)

func main() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))

	verifier, err := auth.NewVerifier(os.Getenv("GATEWAY_JWT_SECRET"))
	if err != nil {
		logger.Error("jwt verifier", "err", err)
		os.Exit(1)
	}

	catalog := upstream.NewClient(upstream.Config{
		BaseURL: "https://catalog.internal.acme.io",
		APIKey:  os.Getenv("CATALOG_API_KEY"),
		Timeout: 5 * time.Second,
	})

	mux := http.NewServeMux()
	mux.Handle("/v1/catalog/", verifier.Middleware(catalog.Proxy()))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })

	srv := &http.Server{Addr: ":8443", Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		if err := srv.ListenAndServeTLS("/etc/gateway/tls.crt", "/etc/gateway/tls.key"); err != nil && err != http.ErrServerClosed {
			logger.Error("listen", "err", err)
		}
	}()
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdown)
}
