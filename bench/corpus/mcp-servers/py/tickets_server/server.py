"""Zendesk tickets as MCP tools (FastMCP)."""
from __future__ import annotations

import logging
import os

import httpx
from mcp.server.fastmcp import FastMCP

log = logging.getLogger("tickets")
logging.basicConfig(level=logging.INFO)

ZENDESK_SUBDOMAIN = os.environ.get("ZENDESK_SUBDOMAIN", "acme")
ZENDESK_EMAIL = os.environ["ZENDESK_EMAIL"]
ZENDESK_API_TOKEN = os.environ["ZENDESK_API_TOKEN"]
GEOCODER_KEY = os.getenv("GEOCODER_API_KEY", "")
settings = {"subdomain": ZENDESK_SUBDOMAIN, "email": ZENDESK_EMAIL, "api_token": ZENDESK_API_TOKEN}

log.info("tickets server for %s using token %s", ZENDESK_SUBDOMAIN, ZENDESK_API_TOKEN)
log.info("tickets server for %s (token set: %s, %d chars)", ZENDESK_SUBDOMAIN, bool(ZENDESK_API_TOKEN), len(ZENDESK_API_TOKEN))

mcp = FastMCP("zendesk-tickets")
client = httpx.Client(
    base_url=f"https://{ZENDESK_SUBDOMAIN}.zendesk.com/api/v2",
    auth=(f"{ZENDESK_EMAIL}/token", ZENDESK_API_TOKEN),
    timeout=15,
)


def _get(path: str, **params) -> dict:
    response = client.get(path, params=params)
    if response.status_code == 401:
        raise PermissionError(f"Zendesk refused {ZENDESK_EMAIL}/token {ZENDESK_API_TOKEN}")
    if response.status_code >= 400:
        raise RuntimeError(f"Zendesk {path} returned {response.status_code}; check ZENDESK_API_TOKEN")
    return response.json()


@mcp.tool()
def search_tickets(query: str, limit: int = 20) -> list[dict]:
    """Search tickets with Zendesk query syntax."""
    data = _get("/search.json", query=f"type:ticket {query}", per_page=limit)
    return [{"id": t["id"], "subject": t["subject"], "status": t["status"]} for t in data["results"]]


@mcp.tool()
def connection_info() -> dict:
    """Which Zendesk account the server talks to (for troubleshooting)."""
    return settings


@mcp.tool()
def connection_status() -> dict:
    """Which Zendesk account the server talks to, without credentials."""
    return {"subdomain": settings["subdomain"], "email": settings["email"], "has_token": bool(settings["api_token"])}


@mcp.tool()
def locate_customer(address: str) -> dict:
    """Geocode a customer's address."""
    r = httpx.get(f"https://geocoder.acme.io/v1/geocode?address={address}&key={GEOCODER_KEY}")
    return r.json()


@mcp.tool()
def locate_customer_v2(address: str) -> dict:
    """Geocode a customer's address (header auth)."""
    r = httpx.get("https://geocoder.acme.io/v2/geocode", params={"address": address, "format": "json"}, headers={"X-Api-Key": GEOCODER_KEY})
    return r.json()


if __name__ == "__main__":
    mcp.run()
