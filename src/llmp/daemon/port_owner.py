"""Which program holds a TCP port, when the operating system lets us see it.

Only asked after binding failed, so its cost (a walk of the system's sockets)
never touches a running daemon. Another user's process, or a system that
hides sockets, gives None; the message then simply does not name the program.
"""

from __future__ import annotations


def port_owner(port: int) -> str | None:
    """`python3 (pid 1234): llmp start` for the process listening on `port`, else None."""
    try:
        import psutil

        for connection in psutil.net_connections(kind="tcp"):
            if (connection.status == psutil.CONN_LISTEN and connection.laddr
                    and connection.laddr.port == port and connection.pid):
                process = psutil.Process(connection.pid)
                command = " ".join(" ".join(process.cmdline()[:4]).split())  # one line
                command = command if len(command) <= 60 else command[:59] + "…"
                return f"{process.name()} (pid {connection.pid})" + (f": {command}" if command else "")
    except Exception:  # access denied, a process gone meanwhile, no support on this system
        return None
    return None


def port_in_use_message(host: str, port: int) -> str:
    owner = port_owner(port)
    held = f"by {owner}" if owner else "by another program"
    return (f"port {port} on {host} is already in use {held}. Choose another port with "
            f"llmp start --port N, server.port in the config, or the LLMP_PORT variable "
            f"(0 = any free port)")
