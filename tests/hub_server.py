"""A Hugging Face hub and a ModelScope hub on loopback for the download tests: one server answers the
routes huggingface_hub, modelscope_hub and TuneDesk use on each (search, model info, the file list with
checksums, file downloads with Range) and serves real model files from folders, optionally throttled,
dropping a connection, lying about a checksum, or with one hub down."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

LFS_MIN = 100_000  # larger files are "LFS" files with a published sha256, as on the hub


@dataclass
class FakeRepo:
    files: dict[str, bytes]
    sha: str = "0123456789abcdef0123456789abcdef01234567"
    gated: bool = False
    licence: str = "apache-2.0"
    wrong_sha256: set[str] = field(default_factory=set)  # files whose published checksum is wrong

    def sibling(self, path: str) -> dict:
        data = self.files[path]
        out = {"rfilename": path, "size": len(data), "blobId": hashlib.sha1(data).hexdigest()}
        if len(data) >= LFS_MIN:
            digest = hashlib.sha256(data).hexdigest()
            if path in self.wrong_sha256:
                digest = "0" * 64
            out["lfs"] = {"size": len(data), "sha256": digest, "pointerSize": 134}
        return out


class FakeHub:
    def __init__(self) -> None:
        self.repos: dict[str, FakeRepo] = {}
        self.datasets: dict[str, FakeRepo] = {}
        self.served: Counter[str] = Counter()  # bytes of file bodies sent, by file name
        self.ranges: list[tuple[str, int]] = []  # (file, start) of each ranged request
        self.throttle_bps = 0  # 0: as fast as loopback goes
        self.drop_once: dict[str, int] = {}  # file → close the connection after this many bytes, once
        self.requests: list[str] = []
        self.down: set[str] = set()  # "hf" / "modelscope": that hub's routes answer 503
        self._server: ThreadingHTTPServer | None = None

    def add_folder(self, repo: str, folder: Path, **kw: object) -> FakeRepo:
        files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
        card = b"---\nlicense: apache-2.0\n---\n# A tiny test model\n\nMade for TuneDesk's tests.\n"
        files.setdefault("README.md", card)
        self.repos[repo] = FakeRepo(files, **kw)  # type: ignore[arg-type]
        return self.repos[repo]

    def add_dataset(self, repo: str, files: dict[str, bytes]) -> FakeRepo:
        self.datasets[repo] = FakeRepo({"README.md": b"# A test dataset\n", **files})
        return self.datasets[repo]

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeHub:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:  # noqa: N802
                self._route(body=False)

            def do_GET(self) -> None:  # noqa: N802
                self._route(body=True)

            def _json(self, status: int, obj: object, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _route(self, body: bool) -> None:
                url = urlparse(self.path)
                parts = [unquote(p) for p in url.path.strip("/").split("/")]
                hub.requests.append(url.path)
                modelscope = parts[:2] in (["openapi", "v1"], ["api", "v1"])
                if ("modelscope" if modelscope else "hf") in hub.down:
                    return self._json(503, {"error": "hub down for the test"})
                if modelscope:
                    return self._modelscope(parts, parse_qs(url.query), body)
                if parts[:2] == ["api", "models"] and len(parts) == 2:
                    query = parse_qs(url.query).get("search", [""])[0].lower()
                    found = [{"id": r, "downloads": 10, "likes": 1, "pipeline_tag": "text-generation",
                              "lastModified": "2026-11-01T00:00:00.000Z", "gated": rep.gated}
                             for r, rep in hub.repos.items() if query in r.lower()]
                    return self._json(200, found)
                if parts[:2] == ["api", "models"] and len(parts) >= 4:
                    repo = hub.repos.get(f"{parts[2]}/{parts[3]}")
                    if repo is None:
                        return self._json(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
                    return self._json(200, {"id": f"{parts[2]}/{parts[3]}", "sha": repo.sha, "private": False,
                                            "gated": "manual" if repo.gated else False, "downloads": 10, "likes": 1,
                                            "pipeline_tag": "text-generation", "tags": ["transformers"],
                                            "cardData": {"license": repo.licence},
                                            "siblings": [repo.sibling(p) for p in repo.files]})
                if parts[:2] == ["api", "datasets"] and len(parts) >= 4:
                    repo = hub.datasets.get(f"{parts[2]}/{parts[3]}")
                    if repo is None:
                        return self._json(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
                    return self._json(200, {"id": f"{parts[2]}/{parts[3]}", "sha": repo.sha, "private": False,
                                            "gated": False, "downloads": 3, "likes": 0, "tags": [],
                                            "siblings": [repo.sibling(p) for p in repo.files]})
                if parts[0] == "datasets" and len(parts) >= 6 and parts[3] == "resolve":
                    return self._file(f"{parts[1]}/{parts[2]}", "/".join(parts[5:]), body, hub.datasets)
                if len(parts) >= 5 and parts[2] == "resolve":
                    return self._file(f"{parts[0]}/{parts[1]}", "/".join(parts[4:]), body)
                self._json(404, {"error": "no such route"})

            def _modelscope(self, parts: list[str], query: dict[str, list[str]], body: bool) -> None:
                """ModelScope's routes: OpenAPI search and model info, the legacy file list and file bytes."""
                if parts == ["openapi", "v1", "models"]:
                    text = query.get("search", [""])[0].lower()
                    found = [{"id": r, "downloads": 7, "likes": 2, "tasks": ["text-generation"],
                              "last_modified": "2026-11-02T00:00:00Z", "gated": rep.gated}
                             for r, rep in hub.repos.items() if text in r.lower()]
                    return self._json(200, {"success": True, "data": {"models": found, "total_count": len(found),
                                                                      "page_number": 1, "page_size": 50}})
                if parts[:3] == ["openapi", "v1", "models"] and len(parts) == 5:
                    repo_id = f"{parts[3]}/{parts[4]}"
                    repo = hub.repos.get(repo_id)
                    if repo is None:
                        return self._json(404, {"success": False, "message": f"model {repo_id} not found"})
                    return self._json(200, {"success": True, "data": {
                        "id": repo_id, "license": repo.licence, "gated": repo.gated, "downloads": 7, "likes": 2,
                        "tasks": ["text-generation"], "tags": ["transformers"]}})
                if parts[:3] == ["api", "v1", "models"] and len(parts) >= 6 and parts[5] == "repo":
                    repo_id = f"{parts[3]}/{parts[4]}"
                    repo = hub.repos.get(repo_id)
                    if repo is None:
                        return self._json(404, {"Code": 404, "Message": f"model {repo_id} not found"})
                    if parts[6:] == ["files"]:
                        files = [{"Path": name, "Name": name.rsplit("/", 1)[-1], "Type": "blob", "Size": len(data),
                                  "Sha256": "0" * 64 if name in repo.wrong_sha256
                                  else hashlib.sha256(data).hexdigest()} for name, data in repo.files.items()]
                        return self._json(200, {"Code": 200, "Success": True, "Data": {"Files": files}})
                    return self._file(repo_id, query.get("FilePath", [""])[0], body)
                if parts[:3] == ["api", "v1", "datasets"] and len(parts) >= 6 and parts[5] == "repo":
                    repo_id = f"{parts[3]}/{parts[4]}"
                    repo = hub.datasets.get(repo_id)
                    if repo is None:
                        return self._json(404, {"Code": 404, "Message": f"dataset {repo_id} not found"})
                    if parts[6:] == ["tree"]:  # paged, as ModelScope pages a dataset's files
                        page, size = int(query.get("PageNumber", ["1"])[0]), int(query.get("PageSize", ["200"])[0])
                        names = list(repo.files)[(page - 1) * size:page * size]
                        files = [{"Path": n, "Name": n.rsplit("/", 1)[-1], "Type": "blob", "Size": len(repo.files[n]),
                                  "Sha256": hashlib.sha256(repo.files[n]).hexdigest()} for n in names]
                        return self._json(200, {"Code": 200, "Success": True, "Data": {"Files": files}})
                    return self._file(repo_id, query.get("FilePath", [""])[0], body, hub.datasets)
                self._json(404, {"Code": 404, "Message": "no such route"})

            def _file(self, repo_id: str, path: str, body: bool, store: dict[str, FakeRepo] | None = None) -> None:
                repo = (hub.repos if store is None else store).get(repo_id)
                if repo is None:
                    return self._json(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
                if repo.gated and self.headers.get("Authorization") != "Bearer hf_good_token":
                    return self._json(401, {"error": "Access to model is restricted"}, {"X-Error-Code": "GatedRepo"})
                if path not in repo.files:
                    return self._json(404, {"error": "Entry not found"}, {"X-Error-Code": "EntryNotFound"})
                data = repo.files[path]
                start = 0
                rng = self.headers.get("Range", "")
                if rng.startswith("bytes="):
                    start = int(rng[6:].split("-")[0])
                    hub.ranges.append((path, start))
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                chunk = data[start:]
                self.send_response(206 if start else 200)
                self.send_header("Content-Length", str(len(chunk)))
                self.send_header("ETag", f'"{hashlib.sha1(data).hexdigest()}"')
                self.send_header("X-Repo-Commit", repo.sha)
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                if not body:
                    return
                drop = hub.drop_once.pop(path, None)
                sent = 0
                step = 64 * 1024
                while sent < len(chunk):
                    piece = chunk[sent:sent + step]
                    if drop is not None and sent + len(piece) > drop:
                        piece = piece[:max(drop - sent, 0)]
                        self.wfile.write(piece)
                        hub.served[path] += len(piece)
                        self.close_connection = True
                        return
                    try:
                        self.wfile.write(piece)
                    except (BrokenPipeError, ConnectionResetError):
                        return
                    sent += len(piece)
                    hub.served[path] += len(piece)
                    if hub.throttle_bps:
                        time.sleep(len(piece) / hub.throttle_bps)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
