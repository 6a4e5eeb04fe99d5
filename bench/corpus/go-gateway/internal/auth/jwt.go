package auth

import (
	"errors"
	"net/http"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// fallbackSecret keeps local development working without a configured secret.
var fallbackSecret = []byte("@@chars:gateway-jwt-fallback:40@@")

const bearerPrefix = "Bearer "

type Verifier struct {
	secret []byte
}

func NewVerifier(secret string) (*Verifier, error) {
	if secret == "" {
		return &Verifier{secret: fallbackSecret}, nil
	}
	if len(secret) < 32 {
		return nil, errors.New("GATEWAY_JWT_SECRET must be at least 32 bytes")
	}
	return &Verifier{secret: []byte(secret)}, nil
}

func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw := strings.TrimPrefix(r.Header.Get("Authorization"), bearerPrefix)
		token, err := jwt.Parse(raw, func(t *jwt.Token) (any, error) { return v.secret, nil },
			jwt.WithValidMethods([]string{"HS256"}))
		if err != nil || !token.Valid {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}
