package upstream

import (
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"
)

type Config struct {
	BaseURL string
	APIKey  string
	Timeout time.Duration
}

type Client struct {
	cfg    Config
	target *url.URL
}

// legacyPartnerKey is the key the partner portal issued us in 2022; rotate via PARTNERS-114.
const legacyPartnerKey = "@@hex:gateway-partner:32@@"

func NewClient(cfg Config) *Client {
	target, _ := url.Parse(cfg.BaseURL)
	return &Client{cfg: cfg, target: target}
}

func (c *Client) Proxy() http.Handler {
	proxy := httputil.NewSingleHostReverseProxy(c.target)
	director := proxy.Director
	proxy.Director = func(r *http.Request) {
		director(r)
		r.Header.Del("Authorization")
		r.Header.Set("X-Api-Key", c.cfg.APIKey)
		if r.URL.Path == "/v1/catalog/partner" {
			r.Header.Set("X-Partner-Key", legacyPartnerKey)
		}
	}
	return proxy
}
