"""nginx from Debian in front of the hosts, running deploy/nginx/parley.conf exactly as shipped.

Only the top level around it is the harness's: a pid file and logs in the run's folder, and a
certificate for the site from a CA made for the run (trustme), placed where the site file looks
for it (tls/ under the configuration folder, as /etc/nginx/tls/ on Debian).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path

import trustme

from ..procs import ROOT
from .network import BALANCER, BALANCER_NAMESPACE, Unavailable, in_namespace

SITE = ROOT / "deploy" / "nginx" / "parley.conf"
SERVER_NAME = "chat.example.com"
READY_TIMEOUT = 30.0

TOP_LEVEL = """\
daemon off;
worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log warn;
events {{
    worker_connections 16384;  # two per socket: the client's and the upstream's
}}
http {{
    access_log off;
    include {site};
}}
"""


def nginx_binary() -> str:
    """Debian's nginx, installed with apt-get when missing and this is root (as scripts/test installs chromium)."""
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise Unavailable("nginx is not installed (as root: apt-get install nginx)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    installed = subprocess.run(
        "apt-get update -qq && apt-get install -y -qq nginx", shell=True, env=env, capture_output=True, text=True
    )
    if installed.returncode != 0 or not Path("/usr/sbin/nginx").exists():
        raise Unavailable(f"could not install nginx with apt-get: {installed.stderr.strip()[-300:]}")
    return "/usr/sbin/nginx"


class Balancer:
    """nginx in the balancer's namespace, on 10.77.0.2:443 with TLS (and :80 redirecting to it)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.ca = trustme.CA()
        self.process: subprocess.Popen | None = None

    @property
    def origin(self) -> str:
        return f"https://{SERVER_NAME}"

    def client_tls(self) -> ssl.SSLContext:
        """What a browser trusting the run's CA uses: the certificate must name chat.example.com."""
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context

    def start(self) -> Balancer:
        binary = nginx_binary()
        tls = self.workdir / "tls"
        tls.mkdir(exist_ok=True)
        certificate = self.ca.issue_cert(SERVER_NAME)
        certificate.private_key_pem.write_to_path(str(tls / "parley.key"))
        certificate.cert_chain_pems[0].write_to_path(str(tls / "parley.crt"))
        for pem in certificate.cert_chain_pems[1:]:
            pem.write_to_path(str(tls / "parley.crt"), append=True)
        config = self.workdir / "nginx.conf"
        config.write_text(TOP_LEVEL.format(workdir=self.workdir, site=SITE))
        command = [*in_namespace(BALANCER_NAMESPACE), binary, "-c", str(config)]
        tested = subprocess.run([*command, "-t"], capture_output=True, text=True)
        if tested.returncode != 0:
            raise RuntimeError(f"nginx refused the configuration: {tested.stderr.strip()}")
        log = (self.workdir / "nginx.log").open("ab")
        self.process = subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)
        log.close()
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited with {self.process.returncode}; see {self.workdir}/nginx.log")
            with socket.socket() as probe:
                if probe.connect_ex((BALANCER, 443)) == 0:
                    return self
            time.sleep(0.1)
        raise RuntimeError("nginx did not listen on 443")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # fast: open sockets would hold a graceful stop
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
