"""A tus client (tuspy, plus raw requests where tuspy has no call) driving a
running Mixdown through the scenarios its tests check. Each prints one JSON
line for the test to assert on.

    tus_client.py first  API KEY FILE STORE CHUNK   # creates, sends one chunk, stops
    tus_client.py rest   API KEY FILE STORE CHUNK   # a new process resumes and finishes
    tus_client.py checksum API KEY FILE
    tus_client.py parallel API KEY FILE PARTS
    tus_client.py race API KEY FILE
    tus_client.py replicas API1 API2 KEY FILE CHUNK
"""

import base64
import hashlib
import json
import sys
import threading
import time
from urllib.parse import urljoin

import requests
from tusclient import client as tus
from tusclient.storage import filestorage

V = {"Tus-Resumable": "1.0.0"}


def endpoint(api):
    return api.rstrip("/") + "/v1/uploads/tus"


def auth(key):
    return {"Authorization": f"Bearer {key}"}


def meta(**pairs):
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in pairs.items())


def uploader(api, key, path, chunk, store=None, url=None, checksum=False):
    c = tus.TusClient(endpoint(api), headers=auth(key))
    options = {"chunk_size": chunk, "metadata": {"filename": "tone.wav", "title": "Tone"}}
    if store:
        options.update(store_url=True, url_storage=filestorage.FileStorage(store))
    return c.uploader(path, url=url, upload_checksum=checksum, **options)


def create(api, key, length, **extra):
    headers = {**V, **auth(key), "Upload-Length": str(length), **extra}
    r = requests.post(endpoint(api), headers=headers)
    r.raise_for_status()
    return urljoin(api, r.headers["Location"])


def patch(url, key, offset, body, **extra):
    headers = {**V, **auth(key), "Upload-Offset": str(offset),
               "Content-Type": "application/offset+octet-stream", **extra}
    return requests.patch(url, data=body, headers=headers)


def head(url, key):
    return requests.head(url, headers={**V, **auth(key)})


def first(api, key, path, store, chunk):
    up = uploader(api, key, path, int(chunk), store=store)
    up.upload_chunk()
    return {"url": up.url, "offset": up.offset}


def rest(api, key, path, store, chunk):
    up = uploader(api, key, path, int(chunk), store=store)
    resumed_at = up.offset
    up.upload()
    return {"url": up.url, "resumed_at": resumed_at, "offset": up.offset}


def checksum(api, key, path):
    data = open(path, "rb").read()
    url = create(api, key, len(data), **{"Upload-Metadata": meta(title="Checked")})
    chunk = data[: 1 << 20]
    wrong = base64.b64encode(hashlib.sha1(b"something else").digest()).decode()
    bad = patch(url, key, 0, chunk, **{"Upload-Checksum": f"sha1 {wrong}"})
    after_bad = int(head(url, key).headers["Upload-Offset"])
    right = base64.b64encode(hashlib.sha256(chunk).digest()).decode()
    good = patch(url, key, 0, chunk, **{"Upload-Checksum": f"sha256 {right}"})
    up = uploader(api, key, path, 4 << 20, url=url, checksum=True)
    up.upload()
    return {"url": url, "bad": bad.status_code, "bad_body": bad.json(), "after_bad": after_bad,
            "good": good.status_code, "offset": up.offset}


def parallel(api, key, path, parts):
    data = open(path, "rb").read()
    n = int(parts)
    cuts = [len(data) * i // n for i in range(n + 1)]
    urls = [create(api, key, cuts[i + 1] - cuts[i], **{"Upload-Concat": "partial"}) for i in range(n)]
    errors = []

    def send(i):
        try:
            r = patch(urls[i], key, 0, data[cuts[i]:cuts[i + 1]])
            if r.status_code != 204:
                errors.append(r.status_code)
        except Exception as e:  # reported to the test, which fails on it
            errors.append(repr(e))

    threads = [threading.Thread(target=send, args=(i,)) for i in range(n)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    paths = " ".join(u[len(api.rstrip("/")):] for u in urls)
    r = requests.post(endpoint(api), headers={**V, **auth(key), "Upload-Concat": f"final;{paths}",
                                              "Upload-Metadata": meta(title="Joined")})
    final = urljoin(api, r.headers.get("Location", ""))
    h = head(final, key)
    gone = [head(u, key).status_code for u in urls]
    return {"url": final, "status": r.status_code, "errors": errors,
            "offset": int(h.headers.get("Upload-Offset", -1)),
            "length": int(h.headers.get("Upload-Length", -1)), "partials_after": gone,
            "concat": h.headers.get("Upload-Concat", ""), "partials": urls}


def race(api, key, path):
    data = open(path, "rb").read()
    url = create(api, key, len(data))
    statuses = {}

    def slow():
        yield data[: 1 << 20]
        time.sleep(1.5)
        yield data[1 << 20: 2 << 20]

    def one():
        statuses["slow"] = patch(url, key, 0, slow()).status_code

    t = threading.Thread(target=one)
    t.start()
    time.sleep(0.5)
    second = patch(url, key, 0, data[: 1 << 20])
    t.join()
    return {"url": url, "slow": statuses["slow"], "second": second.status_code,
            "second_body": second.json() if second.content else None,
            "offset": int(head(url, key).headers["Upload-Offset"])}


def replicas(api1, api2, key, path, chunk):
    chunk = int(chunk)
    data = open(path, "rb").read()
    url1 = create(api1, key, len(data), **{"Upload-Metadata": meta(title="Two replicas")})
    first_patch = patch(url1, key, 0, data[:chunk]).status_code
    url2 = api2.rstrip("/") + url1[len(api1.rstrip("/")):]
    up = uploader(api2, key, path, chunk, url=url2)
    resumed_at = up.offset
    up.upload()
    return {"url": url1, "first": first_patch, "resumed_at": resumed_at, "offset": up.offset}


if __name__ == "__main__":
    scenario, args = sys.argv[1], sys.argv[2:]
    print(json.dumps(globals()[scenario](*args)), flush=True)
