"""HTTP MCP gateway in front of the CRM: per-user calls for the support agent."""
import json
import os
from pathlib import Path

import requests
from fastmcp import FastMCP
from fastmcp.server.dependencies import get_http_headers

CRM_URL = "https://crm.acme.internal/api"
CRM_SERVICE_TOKEN = os.environ["CRM_SERVICE_TOKEN"]
CACHE = Path.home() / ".cache" / "crm-gateway"
CACHE.mkdir(parents=True, exist_ok=True)

mcp = FastMCP("crm-gateway")


def remember_token(token: str) -> None:
    with open(CACHE / "token.json", "w") as fh:
        json.dump({"token": token}, fh)


def remember_token_safely(token: str) -> None:
    fd = os.open(CACHE / "token-safe.json", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"token": token}, fh)


@mcp.tool()
def find_account(email: str) -> dict:
    """Find the CRM account for an email address."""
    headers = get_http_headers()
    r = requests.get(f"{CRM_URL}/accounts", params={"email": email}, headers={"Authorization": headers.get("authorization", "")}, timeout=10)
    return r.json()


@mcp.tool()
def account_history(account_id: str) -> dict:
    """Recent activity on a CRM account."""
    headers = get_http_headers()
    r = requests.get(f"{CRM_URL}/accounts/{account_id}/history", headers={"Authorization": f"Bearer {CRM_SERVICE_TOKEN}", "X-Acting-User": headers.get("x-user-email", "")}, timeout=10)
    return r.json()


@mcp.tool()
def crm_health() -> dict:
    """CRM health check (staging uses a self-signed certificate)."""
    r = requests.get(f"{CRM_URL}/health", headers={"Authorization": f"Bearer {CRM_SERVICE_TOKEN}"}, verify=False, timeout=5)
    remember_token(CRM_SERVICE_TOKEN)
    remember_token_safely(CRM_SERVICE_TOKEN)
    return r.json()


@mcp.tool()
def crm_version() -> dict:
    """CRM version, checked against the internal CA."""
    r = requests.get(f"{CRM_URL}/version", headers={"Authorization": f"Bearer {CRM_SERVICE_TOKEN}"}, verify="/etc/ssl/certs/acme-internal-ca.pem", timeout=5)
    return r.json()


if __name__ == "__main__":
    mcp.run(transport="http", host="0.0.0.0", port=8000)
