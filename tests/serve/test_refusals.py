"""Every refusal answers a 4xx with a JSON message, stores nothing, and bad ids never reach the file system."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from leukodet.serve import Limits
from leukodet.serve.storage import Storage

from .conftest import TestClient, encode, field_array, upload

GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00"


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` (a decompression bomb's first bytes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 4096))


def _refused(response, status: int, needle: str) -> None:  # noqa: ANN001
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert needle in response.json()["detail"]


def _nothing_stored(client: TestClient, data: Path) -> None:
    assert client.get("/v1/analyses").json()["total"] == 0
    assert not any((data / "analyses").iterdir()) and not any((data / "staging").iterdir())


@pytest.mark.parametrize(
    "files,status,needle",
    [
        (upload(("scan.png", GIF)), 415, "scan.png: not a PNG, JPEG or TIFF image"),
        (upload(("notes.txt", b"%PDF-1.7 hello")), 415, "not a PNG, JPEG or TIFF"),
        (upload(("empty.png", b"")), 415, "not a PNG"),
        (upload(("bad.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 200)), 422, "bad.png: corrupt or malformed PNG"),
        (upload(("bad.jpg", b"\xff\xd8\xff\xe0" + b"junk" * 50)), 422, "corrupt or malformed JPEG"),
        (upload(("bad.tif", b"II*\x00" + b"\xff" * 64)), 422, "corrupt or malformed TIFF"),
    ],
)
def test_wrong_type_and_corrupt_images(
    make_client: Callable[..., TestClient], tmp_path: Path, files: list, status: int, needle: str
) -> None:
    client = make_client()
    _refused(client.post("/v1/analyses", files=files), status, needle)
    _nothing_stored(client, tmp_path / "data")


def test_truncated_image_in_a_film_refuses_the_whole_film(
    make_client: Callable[..., TestClient], images: dict[str, bytes], tmp_path: Path
) -> None:
    client = make_client()
    cut = images["PNG"][: len(images["PNG"]) // 2]
    files = upload(("ok.png", images["PNG"]), ("cut.png", cut))
    _refused(client.post("/v1/analyses", files=files), 422, "cut.png: corrupt or malformed PNG")
    _nothing_stored(client, tmp_path / "data")


def test_type_comes_from_content_not_name(
    make_client: Callable[..., TestClient], images: dict[str, bytes]
) -> None:
    client = make_client()
    response = client.post("/v1/analyses", files=upload(("field.gif", images["JPEG"])))
    assert response.status_code == 201, response.text
    stored = client.get(f"/v1/analyses/{response.json()['id']}").json()
    assert stored["report"]["fields"][0]["image"] == "field.gif"


def test_size_pixel_and_count_limits(
    make_client: Callable[..., TestClient], images: dict[str, bytes], tmp_path: Path
) -> None:
    small = len(images["PNG"]) - 1
    client = make_client(limits=Limits(max_file_bytes=small, max_files=2, max_pixels=160 * 159))
    post = client.post
    _refused(post("/v1/analyses", files=upload(("big.png", images["PNG"]))), 413, f"{small}-byte limit")
    tiny_png = encode(field_array(9, 32), "PNG")
    _refused(post("/v1/analyses", files=upload(("a.png", tiny_png)) * 3), 413, "more than 2 files")
    _refused(post("/v1/analyses", files=upload(("wide.jpg", images["JPEG"]))), 413, "160x160 pixels is over")
    _nothing_stored(client, tmp_path / "data")
    assert post("/v1/analyses", files=upload(("a.png", tiny_png)) * 2).status_code == 201


def test_a_request_has_a_pixel_budget(
    make_client: Callable[..., TestClient], images: dict[str, bytes], tmp_path: Path
) -> None:
    client = make_client(limits=Limits(max_pixels=160 * 160, max_request_pixels=2 * 160 * 160))
    three = upload(*((f"f{i}.png", images["PNG"]) for i in range(3)))
    _refused(
        client.post("/v1/analyses", files=three),
        413,
        "3 images of 0.0768 megapixels in all are over the 0.0512-megapixel limit",
    )
    _nothing_stored(client, tmp_path / "data")
    assert client.post("/v1/analyses", files=three[:2]).status_code == 201


@pytest.mark.parametrize("side", [8000, 20000, 1_000_000])  # 64 MP, 400 MP, 10^12 pixels
def test_pixel_bombs_are_refused_from_the_header(
    make_client: Callable[..., TestClient], tmp_path: Path, side: int
) -> None:
    client = make_client()  # default limits: 50 megapixels
    response = client.post("/v1/analyses", files=upload(("bomb.png", _png_claiming(side, side))))
    _refused(response, 413, "bomb.png: ")
    _nothing_stored(client, tmp_path / "data")


def test_body_over_the_limit_is_refused_before_parsing(
    make_client: Callable[..., TestClient], tmp_path: Path
) -> None:
    limits = Limits(max_file_bytes=1000, max_files=1)
    client = make_client(limits=limits)
    body = b"x" * (limits.max_body_bytes + 1)
    headers = {"content-type": "multipart/form-data; boundary=b"}
    _refused(client.post("/v1/analyses", content=body, headers=headers), 413, "request body")
    chunked = iter([body[:1000], body[1000:]])  # no content-length: counted while streaming
    _refused(client.post("/v1/analyses", content=chunked, headers=headers), 413, "request body over")
    _nothing_stored(client, tmp_path / "data")


def test_malformed_requests(make_client: Callable[..., TestClient], images: dict[str, bytes]) -> None:
    client = make_client()
    post = client.post
    _refused(post("/v1/analyses", json={"files": []}), 415, "multipart/form-data")
    _refused(post("/v1/analyses", data={"other": "x"}), 415, "multipart/form-data")
    _refused(post("/v1/analyses", files=[("other", ("a.png", images["PNG"]))]), 422, "no images")
    _refused(post("/v1/analyses", files={"files": (None, "text")}), 422, "expected a file")
    broken = {"content-type": "multipart/form-data"}  # no boundary
    _refused(post("/v1/analyses", content=b"--x--", headers=broken), 422, "malformed multipart body")


BAD_IDS = [
    "short",
    "x" * 65,
    "abc.defghij",
    "abcdefgh%00",
    "abc%20defghi",
    "..%2F..%2Fetc",
    "a/../../x",
    "%2e%2e%2f%2e%2e",
]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_unknown_and_path_like_ids_answer_404_without_touching_disk(
    make_client: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch, bad: str
) -> None:
    client = make_client()

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"storage reached with {args}")

    for method in ("folder", "get", "file", "delete"):
        monkeypatch.setattr(Storage, method, forbidden)
    base = f"/v1/analyses/{bad}"
    for method, path in [
        ("GET", base),
        ("DELETE", base),
        ("GET", f"{base}/report.html"),
        ("GET", f"{base}/cells/0.png"),
    ]:
        response = client.request(method, path)
        assert response.status_code == 404, (method, path, response.text)
        assert response.headers["content-type"] == "application/json"


def test_well_formed_unknown_id_and_bad_cell_numbers(
    make_client: Callable[..., TestClient], images: dict[str, bytes]
) -> None:
    client = make_client()
    for path in ["/v1/analyses/AAAAAAAAAAAAAAAAAAAAAA", "/v1/analyses/AAAAAAAAAAAAAAAAAAAAAA/report.html"]:
        _refused(client.get(path), 404, "no such analysis")
    _refused(client.delete("/v1/analyses/AAAAAAAAAAAAAAAAAAAAAA"), 404, "no such analysis")
    aid = client.post("/v1/analyses", files=upload(("f.png", images["PNG"]))).json()["id"]
    for cell in ["-1.png", "x.png", "99999.png", "..%2Freport.json", "0.jpg"]:
        assert client.get(f"/v1/analyses/{aid}/cells/{cell}").status_code == 404, cell


def test_other_host_names_are_refused_against_dns_rebinding(
    make_client: Callable[..., TestClient], images: dict[str, bytes], tmp_path: Path
) -> None:
    client = make_client()
    stored = client.post("/v1/analyses", files=upload(("a.png", images["PNG"])))
    assert stored.status_code == 201
    aid = stored.json()["id"]
    for host in ("evil.example", "evil.example:8000", "127.0.0.1.evil.example"):
        answer = client.get(f"/v1/analyses/{aid}", headers={"host": host})
        assert answer.status_code == 400 and "--allowed-host" in answer.json()["detail"], host
        assert client.get("/", headers={"host": host}).status_code == 400
    for host in ("localhost:8000", "127.0.0.1", "[::1]:8000"):
        assert client.get(f"/v1/analyses/{aid}", headers={"host": host}).status_code == 200, host
    proxied = make_client(allowed_hosts=["films.lab.example"])
    assert proxied.get("/v1/analyses", headers={"host": "films.lab.example"}).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "http://evil.example"},
        {"origin": "null"},
        {"origin": "http://localhost.evil.example:8000"},
        {"sec-fetch-site": "cross-site"},
    ],
)
def test_cross_site_writes_are_refused(
    make_client: Callable[..., TestClient], images: dict[str, bytes], tmp_path: Path, headers: dict[str, str]
) -> None:
    client = make_client()
    answer = client.post("/v1/analyses", files=upload(("a.png", images["PNG"])), headers=headers)
    assert answer.status_code == 403 and answer.json()["detail"].startswith("cross-site request refused")
    _nothing_stored(client, tmp_path / "data")
    same = client.post(
        "/v1/analyses", files=upload(("a.png", images["PNG"])), headers={"origin": "http://127.0.0.1:8000"}
    )
    assert same.status_code == 201
    aid = same.json()["id"]
    assert client.delete(f"/v1/analyses/{aid}", headers=headers).status_code == 403
    assert client.get(f"/v1/analyses/{aid}", headers=headers).status_code == 200  # reads are not writes


TOKEN = "s3cret-token-for-tests"


def test_api_tokens_guard_the_api_and_name_the_reviewer(
    make_client: Callable[..., TestClient], images: dict[str, bytes]
) -> None:
    from leukodet.serve.guards import parse_tokens

    client = make_client(tokens=parse_tokens([f"Dr Token:{TOKEN}"]))
    bearer = {"authorization": f"Bearer {TOKEN}"}
    refused = client.get("/v1/analyses")
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    assert refused.json() == {"detail": "missing or wrong API token (send Authorization: Bearer TOKEN)"}
    assert (
        client.get("/v1/analyses", headers={"authorization": "Bearer wrong-token-000000"}).status_code == 401
    )
    assert client.get("/v1/health").status_code == 200 and client.get("/").status_code == 200
    stored = client.post("/v1/analyses", files=upload(("a.png", images["PNG"])), headers=bearer)
    assert stored.status_code == 201
    aid = stored.json()["id"]
    cell = client.get(f"/v1/analyses/{aid}/cells/0.png", headers={"cookie": f"leukodet_token={TOKEN}"})
    assert cell.status_code == 200  # the page's images carry the token as a cookie
    review = {"reviewer": "Mallory", "changes": [{"action": "confirm", "cell": 0}]}
    assert client.post(f"/v1/analyses/{aid}/review", json=review, headers=bearer).status_code == 200
    log = client.get(f"/v1/analyses/{aid}/audit", headers=bearer).json()["entries"]
    assert [e["reviewer"] for e in log] == ["Dr Token"]  # the token's name, not what the body claims


def test_tokens_are_checked_and_required_off_loopback(tmp_path: Path) -> None:
    from leukodet.serve.guards import parse_tokens
    from leukodet.serve.server import run_server

    with pytest.raises(ValueError, match="expected NAME:SECRET"):
        parse_tokens(["no-colon"])
    with pytest.raises(ValueError, match="shorter than 16"):
        parse_tokens(["a:short"])
    with pytest.raises(ValueError, match="same secret"):
        parse_tokens([f"a:{TOKEN}", f"b:{TOKEN}"])
    with pytest.raises(ValueError, match="--host 0.0.0.0 lets other machines reach the service"):
        run_server(tmp_path / "never-loaded.pt", tmp_path / "data", host="0.0.0.0")
