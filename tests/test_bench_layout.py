"""The bench's layouts: the shipped nginx site with the bench's ports, the pools' worker split,
and the report naming the layout that ran. Pure: no nginx, no servers started."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import nginx, report

pytestmark = pytest.mark.backend_free
CACHE = Path("/tmp/bench-nginx/cache")


def test_the_bench_runs_the_shipped_site_with_only_its_ports_changed():
    shipped = nginx.SITE.read_text()
    site = nginx.site_config(
        shipped, waiting_port=38001, booking_port=38002, listen_port=38000, cache_dir=CACHE
    )
    assert "server 127.0.0.1:38001;" in site.split("upstream fairslot_waiting")[1].split("}")[0]
    assert "server 127.0.0.1:38002;" in site.split("upstream fairslot_booking")[1].split("}")[0]
    assert "listen 127.0.0.1:38000 backlog=4096;" in site
    assert "listen 80;" not in site
    assert f"proxy_cache_path {CACHE} levels=" in site and "/var/" not in site
    # Every other line is the shipped one: the routing, headers and limits under test.
    changed = [a for a, b in zip(shipped.splitlines(), site.splitlines(), strict=True) if a != b]
    assert [line.strip() for line in changed] == [
        "proxy_cache_path /var/cache/nginx-fairslot levels=1:2 keys_zone=fairslot_availability:10m",
        "server 127.0.0.1:8001;",
        "server 127.0.0.1:8002;",
        "listen 80;",
    ]


@pytest.mark.parametrize(
    "broken",
    [
        lambda s: s.replace("server 127.0.0.1:8001;", "server 127.0.0.1:9001;"),  # moved
        lambda s: s.replace("listen 80;", "listen 8080;"),
        lambda s: s + "\n# listen 80;\n",  # twice: which one would the bench rewrite?
    ],
)
def test_a_site_whose_markers_moved_is_refused_not_half_substituted(broken):
    with pytest.raises(ValueError, match="exactly once"):
        nginx.site_config(
            broken(nginx.SITE.read_text()),
            waiting_port=1,
            booking_port=2,
            listen_port=3,
            cache_dir=CACHE,
        )


def test_main_config_keeps_everything_under_the_private_prefix(tmp_path):
    conf = nginx.main_config(tmp_path, tmp_path / "fairslot.conf", connections=100)
    assert f"pid {tmp_path}/nginx.pid;" in conf and "daemon off;" in conf
    assert f"include {tmp_path}/fairslot.conf;" in conf
    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        assert f"{kind}_temp_path {tmp_path}/{kind};" in conf
    assert "worker_connections 100;" in conf and "worker_rlimit_nofile 264;" in conf
    assert "/var/" not in conf and "/etc/" not in conf


@pytest.mark.parametrize(
    ("total", "waiting", "booking", "split"),
    [
        (4, 0, 0, (1, 3)),  # the quick profile: 2 x 2 workers, a third and the rest
        (6, 0, 0, (2, 4)),  # the shipped config's example
        (9, 0, 0, (3, 6)),
        (2, 0, 0, (1, 1)),  # each pool at least one
        (4, 2, 0, (2, 2)),  # one given: the other takes the rest
        (4, 0, 1, (3, 1)),
        (4, 3, 5, (3, 5)),  # both given: the profile's, whatever the total
    ],
)
def test_pool_split(total, waiting, booking, split):
    assert nginx.pool_split(total, waiting, booking) == split


@pytest.mark.parametrize(("total", "waiting", "booking"), [(1, 0, 0), (4, -1, 0), (4, 0, -2)])
def test_pool_split_refuses_what_cannot_make_two_pools(total, waiting, booking):
    with pytest.raises(ValueError):
        nginx.pool_split(total, waiting, booking)


def test_the_report_names_the_layout_nginx_version_and_pool_sizes():
    served = {"proxy": "nginx", "nginx": "nginx/1.22.1", "waiting_workers": 1, "booking_workers": 3}
    base = {"machine": {}, "profile": {"name": "quick", "workers": 2, "worker_class": "sync"}}
    text = report.render({**base, "layout": served})
    assert "Layout: nginx nginx/1.22.1 (the shipped site)" in text
    assert "waiting-room pool of 1 and a booking pool of 3 gunicorn workers" in text
    assert "Layout **nginx**" in text and "`FAIRSLOT_PROXY_COUNT=2`" in text
    assert "the app's default `FAIRSLOT_AVAILABILITY_MAX_AGE`" in text
    uncached = report.render({**base, "layout": {**served, "availability_max_age": 0}})
    assert "Searches and slot lists: **not cached**" in uncached
    cached = report.render({**base, "layout": {**served, "availability_max_age": 2}})
    assert "Searches and slot lists cached by nginx for 2 s" in cached
    old = report.render({**base, "layout": {"proxy": "none"}})
    assert "Layout: no proxy, two gunicorn app servers" in old
    assert "2 workers each, `FAIRSLOT_PROXY_COUNT=1`" in old
    # nginx is named only by the failover drills' target rows (their crowd's front).
    assert "nginx" not in old.replace("its crowd through nginx", "")
    assert "Layout: no proxy" in report.render(base)  # results from before the layouts
