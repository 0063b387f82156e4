"""``make run``: prepare the database and start web, worker, beat and Flower together.

Steps: pick the broker (capitolscope.broker), check the database, migrate, create the first
admin user, create the default schedules, then start every process of the Procfile, each in
its own process group, with its output shown here (prefixed) and kept in var/log/<name>.log.
Ctrl-C (or SIGTERM) stops every process, waits for it, and stops the embedded Redis last.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

from django.utils import timezone

from capitolscope.broker import BrokerUnavailable, resolve_broker

BASE_DIR = Path(__file__).resolve().parent.parent
PROCFILE_LINE = re.compile(r"^(?P<name>[A-Za-z0-9_-]+):\s*(?P<command>.+)$")
STOP_TIMEOUT = 15.0


def fail(message: str) -> None:
    sys.stderr.write(f"capitolscope: {message}\n")
    raise SystemExit(1)


def read_procfile(path: Path) -> list[tuple[str, str]]:
    entries = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = PROCFILE_LINE.match(line)
        if not match:
            fail(f"{path.name}: cannot read line {line!r} (expected 'name: command')")
        entries.append((match["name"], match["command"]))
    return entries


_SHELL_DEFAULT = re.compile(r"\$\{(?P<name>\w+)(?::-(?P<default>[^}]*))?\}")


def shown_command(command: str, env: dict) -> str:
    """The Procfile command as the shell runs it: ``${WEB_PORT:-8000}`` becomes the port in
    use, so the log says where a process really listens."""
    return _SHELL_DEFAULT.sub(lambda m: env.get(m["name"]) or (m["default"] or ""), command)


def flower_credentials(var_dir: Path) -> tuple[str, str]:
    """Flower's ``user:password`` and how the banner describes it.

    ``FLOWER_BASIC_AUTH`` when set; otherwise a password generated on the first run and kept
    in ``var/flower-password`` (readable by the owner only), so a browser's saved login keeps
    working across restarts. Delete the file for a new one.
    """
    given = os.environ.get("FLOWER_BASIC_AUTH", "").strip()
    if given:
        return given, "credentials from FLOWER_BASIC_AUTH"
    path = var_dir / "flower-password"
    password = path.read_text().strip() if path.exists() else ""
    if not password:
        password = secrets.token_urlsafe(12)
        var_dir.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(password + "\n")
    return f"admin:{password}", f"user admin, password {password} (generated, kept in {path})"


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
            return True
        except OSError:
            return False


def prepare_database() -> tuple[str, str]:
    """Check, migrate, create the admin user and the default schedules; return the DB URL and
    what ``ensure_superuser`` said (the generated password, shown once, goes in the banner)."""
    import io

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    try:
        connection.ensure_connection()
    except Exception as exc:
        fail(f"database {settings.DATABASE_DISPLAY} is unreachable: {str(exc).strip()}")
    call_command("migrate", interactive=False, verbosity=0)
    said = io.StringIO()
    call_command("ensure_superuser", stdout=said)
    admin = said.getvalue().strip()  # shown in the banner
    if "already exists" in admin:
        admin += "; forgot its password? .venv/bin/python manage.py changepassword <user>"
    call_command("setup_schedules")
    connection.close()
    return settings.DATABASE_DISPLAY, admin


def first_health_check(*, started_at, stop: threading.Event, wait: float = 120.0) -> None:
    """Ask for a full health check once beat leads (its heartbeat is newer than this start)
    and a worker answers a ping, so the dashboard has a result within seconds instead of
    saying "Health unknown" until the 5-minute schedule first runs, and does not judge beat
    or the workers before they are up. Run on a thread; gives up quietly after ``wait``."""
    from django.db import close_old_connections

    from capitolscope.celery import app
    from monitoring.models import Heartbeat
    from monitoring.tasks import system_health_check

    deadline = time.monotonic() + wait
    try:
        while not stop.is_set() and time.monotonic() < deadline:
            close_old_connections()
            beat_up = Heartbeat.objects.filter(name="beat", seen_at__gte=started_at).exists()
            if beat_up and app.control.ping(timeout=1.0):
                system_health_check.delay()
                return
            stop.wait(1.0)
    except Exception as exc:  # the schedule runs it anyway, every 5 minutes
        print(f"capitolscope: could not ask for a first health check: {exc}", flush=True)
    finally:
        close_old_connections()


class Supervisor:
    """Runs the Procfile's processes; stops them all when one dies or on a signal."""

    def __init__(self, entries: list[tuple[str, str]], *, env: dict, log_dir: Path) -> None:
        self.entries = entries
        self.env = env
        self.log_dir = log_dir
        self.processes: dict[str, subprocess.Popen] = {}
        self.stopping = threading.Event()
        self.width = max(len(name) for name, _ in entries)
        self.console_lock = threading.Lock()

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for name, command in self.entries:
            process = subprocess.Popen(
                ["/bin/sh", "-c", f"exec {command}"],
                cwd=BASE_DIR,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: we stop it (and its children) by pid
            )
            self.processes[name] = process
            self.say(name, f"started (pid {process.pid}): {shown_command(command, self.env)}")
            threading.Thread(target=self.pump, args=(name, process), daemon=True).start()

    def say(self, name: str, line: str) -> None:
        stamp = datetime.now().strftime("%H:%M:%S")
        with self.console_lock:
            sys.stdout.write(f"{stamp} {name:<{self.width}} | {line}\n")
            sys.stdout.flush()

    def pump(self, name: str, process: subprocess.Popen) -> None:
        with open(self.log_dir / f"{name}.log", "a", encoding="utf-8") as log:
            for raw in iter(process.stdout.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip()
                log.write(line + "\n")
                log.flush()
                self.say(name, line)

    def wait(self) -> int:
        """Block until a signal or a process exit; return the exit status for the stack."""
        while not self.stopping.is_set():
            for name, process in self.processes.items():
                code = process.poll()
                if code is not None:
                    self.say(name, f"exited with status {code}; stopping the others")
                    return code or 1
            self.stopping.wait(0.5)
        return 0

    def stop(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is None:
                self.say(name, "stopping")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for name, process in self.processes.items():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say(name, "did not stop in time; killing it")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            # Worker pool children share the group; make sure none outlives its parent.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "capitolscope.settings")
    var_dir = Path(os.environ.get("VAR_DIR") or BASE_DIR / "var")
    log_dir = var_dir / "log"
    web_host = os.environ.get("WEB_HOST", "127.0.0.1")
    web_port = int(os.environ.get("WEB_PORT", "8000"))
    flower_host = os.environ.get("FLOWER_HOST", "127.0.0.1")
    flower_port = int(os.environ.get("FLOWER_PORT", "5555"))
    for variable, host, port in (
        ("WEB_PORT", web_host, web_port),
        ("FLOWER_PORT", flower_host, flower_port),
    ):
        if not port_is_free(host, port):
            fail(f"port {host}:{port} is already in use; stop what uses it or set {variable}")

    try:
        broker = resolve_broker(var_dir=var_dir)
    except BrokerUnavailable as exc:
        fail(str(exc))
    stop_requested = threading.Event()
    try:
        # Every child (and the settings loaded below) sees the same broker.
        if broker.origin in ("local", "embedded") or not os.environ.get("REDIS_URL"):
            os.environ["REDIS_URL"] = broker.url  # a separate REDIS_URL (locks) is kept
        # Links in emails point at this server unless SITE_URL says otherwise.
        link_host = "127.0.0.1" if web_host in ("0.0.0.0", "::", "") else web_host  # noqa: S104
        os.environ.setdefault("SITE_URL", f"http://{link_host}:{web_port}")
        database, admin = prepare_database()

        flower_auth, flower_note = flower_credentials(var_dir)
        env = dict(os.environ, FLOWER_BASIC_AUTH=flower_auth, PYTHONUNBUFFERED="1")
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        env.update(WEB_HOST=web_host, WEB_PORT=str(web_port))
        env.update(FLOWER_HOST=flower_host, FLOWER_PORT=str(flower_port))

        print(
            "\nCapitolScope is starting\n"
            f"  app      http://{web_host}:{web_port}/\n"
            f"  ops      http://{web_host}:{web_port}/ops/  (staff: health, tasks, schedules)\n"
            f"  alerts   http://{web_host}:{web_port}/subscriptions/  (each user's own)\n"
            f"  admin    http://{web_host}:{web_port}/admin/\n"
            f"  api      http://{web_host}:{web_port}/api/  (staff session or bearer token)\n"
            f"  health   http://{web_host}:{web_port}/health/\n"
            f"  flower   http://{flower_host}:{flower_port}/  ({flower_note})\n"
            f"  links    {os.environ['SITE_URL']}  (SITE_URL: the address in emails)\n"
            f"  database {database}\n"
            f"  broker   {broker.describe()}\n"
            f"  logs     {log_dir}/<process>.log\n"
            f"  {admin}\n"
            "Press Ctrl-C to stop everything.\n",
            flush=True,
        )
        supervisor = Supervisor(read_procfile(BASE_DIR / "Procfile"), env=env, log_dir=log_dir)

        def on_signal(signum, _frame):
            stop_requested.set()
            supervisor.stopping.set()

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        started_at = timezone.now()
        supervisor.start()
        threading.Thread(
            target=first_health_check,
            kwargs={"started_at": started_at, "stop": supervisor.stopping},
            name="first health check",
            daemon=True,
        ).start()
        status = supervisor.wait()
        supervisor.stop()
        return 0 if stop_requested.is_set() else status
    finally:
        if broker.embedded:
            broker.embedded.stop()
            print("embedded redis-server stopped", flush=True)


if __name__ == "__main__":
    sys.exit(main())
