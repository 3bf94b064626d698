"""pyinfra's equivalent of benches/bench.yml, for the side-by-side benchmark.

Run by benches/fleet.sh from the benches/ directory:
    pyinfra -y --sudo --parallel N inventory.py bench_deploy.py
Same end state on the hosts as the playbook (paths, contents, owners, modes);
it uses the same template files, given the variables the playbook has.
Differences forced by pyinfra's model: no fact gathering (only the hostname is
read); `command ... creates:` becomes a plan-time Directory fact; `stat` +
`when:` is an execution-time File fact in `_if`; the `Read the version`
register + debug is a python.call reading the file; `create: yes, mode:` of
lineinfile and blockinfile is a files.file before files.line/files.block.
"""

from io import StringIO

from pyinfra import host
from pyinfra.facts.files import Directory, File
from pyinfra.facts.server import Hostname
from pyinfra.operations import files, python, server
from pyinfra.operations.util import any_changed

app = "shop"
app_root = "/srv/shop"
app_port = 8080
workers = 4
vhosts = [
    {"name": "www", "port": 8080},
    {"name": "api", "port": 8081},
    {"name": "admin", "port": 8082},
]
hostname = host.get_fact(Hostname)
tvars = dict(
    app=app,
    app_root=app_root,
    app_port=app_port,
    workers=workers,
    vhosts=vhosts,
    ansible_facts={"hostname": hostname},
)
root = dict(user="root", group="root")
# Ansible's template defaults.
jinja = {"jinja_env_kwargs": {"trim_blocks": True}}

for d in ["bin", "etc", "www", "log", "run"]:
    files.directory(name=f"Directory tree {d}", path=f"{app_root}/{d}", mode="755", **root)

files.directory(
    name="Configuration directory", path=f"/etc/{app}", user="root", group="deploy", mode="750"
)

files.put(
    name="Landing page",
    src=StringIO(f"<h1>{app} on {hostname}</h1>\n"),
    dest=f"{app_root}/www/index.html",
    mode="644",
    **root,
)

files.put(
    name="Static file",
    src="files/robots.txt",
    dest=f"{app_root}/www/robots.txt",
    mode="644",
    **root,
)

main_conf = files.template(
    name="Main configuration",
    src="templates/app.conf.j2",
    dest=f"/etc/{app}/app.conf",
    user="root",
    group="deploy",
    mode="640",
    **jinja,
    **tvars,
)

vhost_confs = [
    files.template(
        name=f"Virtual host {v['name']}",
        src="templates/vhost.conf.j2",
        dest=f"/etc/{app}/vhost-{v['name']}.conf",
        mode="644",
        item=v,
        **root,
        **jinja,
        **tvars,
    )
    for v in vhosts
]

files.file(name="Environment file exists", path=f"/etc/{app}/environment", mode="644", **root)
files.line(
    name="Environment file",
    path=f"/etc/{app}/environment",
    line="^APP_ENV=",
    replace="APP_ENV=production",
)
files.line(
    name="Worker count",
    path=f"/etc/{app}/environment",
    line="^WORKERS=",
    replace=f"WORKERS={workers}",
)

files.file(name="Log rotation file exists", path=f"/etc/{app}/logrotate.conf", mode="644", **root)
files.block(
    name="Log rotation",
    path=f"/etc/{app}/logrotate.conf",
    marker="# {mark} ANSIBLE MANAGED BLOCK",
    content=f"{app_root}/log/*.log {{\n  daily\n  rotate 7\n}}",
)

start_script = files.put(
    name="Start script",
    src=StringIO(f'#!/bin/sh\nexec echo "starting {app} with {workers} workers"\n'),
    dest=f"{app_root}/bin/start",
    mode="755",
    **root,
)

if not host.get_fact(Directory, path=f"{app_root}/data"):
    server.shell(name="Initialise the data directory once", commands=[f"mkdir {app_root}/data"])

files.put(
    name="Mark the release",
    src=StringIO("1.4.2\n"),
    dest=f"{app_root}/RELEASE",
    _if=lambda: bool(host.get_fact(File, path=f"{app_root}/bin/start")),
    **root,
)

files.file(name="Profile snippet exists", path=f"/etc/profile.d/{app}.sh", mode="644", **root)
files.line(
    name="Profile snippet",
    path=f"/etc/profile.d/{app}.sh",
    line=f"^export PATH=\\$PATH:{app_root}/bin$",
    replace=f"export PATH=$PATH:{app_root}/bin",
)


def report():
    ok, out = host.run_shell_command(command=f"cat {app_root}/RELEASE", _sudo=True)
    version = out.stdout if ok else "?"
    print(f"{host.name} runs {app} {version}")


python.call(name="Read the version and report", function=report)

server.shell(
    name="Restart app",
    commands=[f"{app_root}/bin/start"],
    _if=any_changed(main_conf, *vhost_confs),
)
