package auth

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

const testSecret = "0123456789abcdef0123456789abcdef"

func TestMiddlewareRejectsMissingToken(t *testing.T) {
	v, err := NewVerifier(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	v.Middleware(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest("GET", "/v1/catalog/x", nil))
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("got %d", rec.Code)
	}
}

func TestMiddlewareRejectsMalformedToken(t *testing.T) {
	v, _ := NewVerifier(testSecret)
	req := httptest.NewRequest("GET", "/v1/catalog/x", nil)
	req.Header.Set("Authorization", "Bearer not.a.jwt")
	rec := httptest.NewRecorder()
	v.Middleware(http.NotFoundHandler()).ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("got %d", rec.Code)
	}
}
