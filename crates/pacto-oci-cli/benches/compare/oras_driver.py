"""Drives the ORAS Python SDK (`pip install oras`) for the pacto-oci comparison bench.

usage: oras_driver.py COMMAND HOST ARGS...
  import                                   load the SDK and exit (start-up time)
  push HOST REPO:TAG DIR                   push DIR as one layer (the SDK tars it)
  pull HOST REPO:TAG OUT                   pull into OUT (a directory layer is extracted)
  resolve HOST REPO MAJOR MINOR            highest tag X.Y.Z with X == MAJOR and Y >= MINOR
                                           (the constraint ^MAJOR.MINOR), print tag and digest
  pull-all HOST REPO OUT                   list the tags, then pull each one, one at a time

The registry speaks HTTPS with a test CA, named by the environment variable BENCH_CA_FILE,
or plain HTTP when BENCH_PLAIN_HTTP=1. Any failure exits non-zero.
"""

import os
import sys

import oras.client
import oras.defaults


def client(host):
    if os.environ.get("BENCH_PLAIN_HTTP") == "1":
        return oras.client.OrasClient(hostname=host, insecure=True)
    # HTTPS, verifying the registry's certificate against the bench's test CA.
    return oras.client.OrasClient(
        hostname=host, insecure=False, tls_verify=os.environ["BENCH_CA_FILE"]
    )


def semver(tag):
    parts = tag.split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return None
    return tuple(int(p) for p in parts)


def manifest_digest(c, target):
    container = c.get_container(target)
    response = c.do_request(
        f"{c.prefix}://{container.manifest_url()}",
        "HEAD",
        headers={"Accept": oras.defaults.default_manifest_media_type},
    )
    if response.status_code != 200:
        raise SystemExit(f"HEAD {target}: {response.status_code}")
    return response.headers["Docker-Content-Digest"]


def main(argv):
    command = argv[0]
    if command == "import":
        return
    host = argv[1]
    c = client(host)
    if command == "push":
        target, directory = argv[2], argv[3]
        c.push(
            target=f"{host}/{target}",
            files=[directory],
            disable_path_validation=True,
            quiet=True,
        )
    elif command == "pull":
        target, out = argv[2], argv[3]
        files = c.pull(target=f"{host}/{target}", outdir=out)
        if not files:
            raise SystemExit(f"pull {target}: no files")
    elif command == "resolve":
        repo, major, minor = argv[2], int(argv[3]), int(argv[4])
        tags = c.get_tags(f"{host}/{repo}")
        candidates = [
            (v, t)
            for t in tags
            if (v := semver(t)) is not None and v[0] == major and v[1] >= minor
        ]
        if not candidates:
            raise SystemExit(f"resolve {repo}: no tag matches ^{major}.{minor}")
        _, tag = max(candidates)
        print(tag, manifest_digest(c, f"{host}/{repo}:{tag}"))
    elif command == "pull-all":
        repo, out = argv[2], argv[3]
        tags = [t for t in c.get_tags(f"{host}/{repo}") if semver(t) is not None]
        for tag in tags:
            c.pull(target=f"{host}/{repo}:{tag}", outdir=os.path.join(out, tag))
        print(len(tags))
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main(sys.argv[1:])
