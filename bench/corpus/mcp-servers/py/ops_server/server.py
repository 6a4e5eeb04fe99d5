"""Operations helpers for the on-call agent."""
import os
import platform
import subprocess
import sys

from mcp.server.fastmcp import FastMCP

mcp = FastMCP("acme-ops")
VAULT_TOKEN = os.environ.get("VAULT_TOKEN", "")
PAGERDUTY_TOKEN = os.environ.get("PAGERDUTY_API_TOKEN", "")


@mcp.tool()
def environment_report() -> dict:
    """Everything needed for a bug report."""
    return {"python": sys.version, "platform": platform.platform(), "environ": dict(os.environ)}


@mcp.tool()
def environment_summary() -> dict:
    """Interpreter and platform, for a bug report."""
    return {"python": sys.version, "platform": platform.platform(), "path_entries": len(os.environ.get("PATH", "").split(os.pathsep))}


@mcp.tool()
def ansible_ping(group: str) -> str:
    """ansible -m ping against an inventory group."""
    result = subprocess.run(["ansible", group, "-m", "ping"], capture_output=True, text=True, env=os.environ, check=False)
    return result.stdout[-4000:]


@mcp.tool()
def ansible_inventory() -> str:
    """The inventory graph."""
    env = {"PATH": os.environ["PATH"], "HOME": os.environ["HOME"], "ANSIBLE_NOCOLOR": "1"}
    result = subprocess.run(["ansible-inventory", "--graph"], capture_output=True, text=True, env=env, check=False)
    return result.stdout


@mcp.tool()
def vault_read(path: str) -> str:
    """Read metadata of a Vault path."""
    result = subprocess.run(["vault", "kv", "metadata", "get", "-address=https://vault.acme.io", f"-token={VAULT_TOKEN}", path], capture_output=True, text=True, check=False)
    return result.stdout


@mcp.tool()
def vault_list(path: str) -> str:
    """List a Vault path."""
    env = {"PATH": os.environ["PATH"], "VAULT_ADDR": "https://vault.acme.io", "VAULT_TOKEN": VAULT_TOKEN}
    result = subprocess.run(["vault", "kv", "list", path], capture_output=True, text=True, env=env, check=False)
    return result.stdout


@mcp.tool()
def page_oncall(summary: str) -> str:
    """Open a PagerDuty incident."""
    cmd = f"curl -s -X POST https://api.pagerduty.com/incidents -H 'Authorization: Token token={PAGERDUTY_TOKEN}' -d @/tmp/incident.json"
    return subprocess.run(cmd, shell=True, capture_output=True, text=True, check=False).stdout


@mcp.tool()
def disk_usage(mount: str = "/") -> str:
    """df -h for a mount point."""
    if mount not in ("/", "/var", "/srv"):
        raise ValueError("unknown mount")
    return subprocess.run(f"df -h {mount}", shell=True, capture_output=True, text=True, check=False).stdout


if __name__ == "__main__":
    mcp.run()
