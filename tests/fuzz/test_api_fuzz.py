"""Property-based fuzzing of every route in the OpenAPI document (app/openapi.py) with schemathesis, against
the real app on loopback (tests/fuzz/conftest.py), each request with the credentials its operation names.

For each operation, schema-conforming (positive) and schema-violating (negative) requests; a fixed seed and
a fixed example count (bench/FUZZ.md records both; ``make fuzz`` runs a bigger budget through
CIVIC_FUZZ_EXAMPLES).  Every response must be < 500, and every 4xx must carry a body that says why (the JSON
error shape on the API, the page or message elsewhere).  Operations marked ``x-fuzz: false`` are left out
(their summaries say why: they end the fuzzer's session, revoke its tokens or start a training run), as are
the channel webhooks, which this stack does not configure.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from schemathesis import GenerationMode

from app.openapi import OPERATIONS, document
from tests.fuzz.conftest import FuzzStack

SEED = 20261201
EXAMPLES = int(os.environ.get("CIVIC_FUZZ_EXAMPLES", "12"))  # per operation and mode
SKIPPED_TAGS = {"channels"}
STATS: Counter[str] = Counter()

SCHEMA = schemathesis.openapi.from_dict(document())
FUZZED = sorted(
    (method, path) for (method, path), op in OPERATIONS.items() if op.fuzz and op.tag not in SKIPPED_TAGS)


Security = list[dict[str, list[str]]]


def credentials(stack: FuzzStack, security: Security) -> tuple[dict[str, str], dict[str, str]]:
    headers: dict[str, str] = {}
    cookies: dict[str, str] = {}
    for requirement in security[:1]:
        if "session" in requirement:
            cookies.update(stack.cookies)
        if "csrf" in requirement:
            headers["X-CSRF-Token"] = stack.csrf
        if "apiToken" in requirement:
            headers["Authorization"] = f"Bearer {stack.tokens[requirement['apiToken'][0]]}"
        if "staffToken" in requirement:
            headers["Authorization"] = f"Bearer {stack.tokens['staff']}"
    return headers, cookies


def says_why(response: Any) -> str:
    """The reason a refusal gives, '' when it gives none (a schemathesis Response: lowercase header names,
    list values)."""
    text = response.content.decode("utf-8", "replace").strip()
    content_type = (response.headers.get("content-type") or [""])[0]
    if content_type.startswith("application/json"):
        try:
            body = json.loads(text)
        except ValueError:
            return ""
        reason = body.get("error") if isinstance(body, dict) else None
        return str(reason or "").strip()
    return text


def check(stack: FuzzStack, case: Any, method: str, path: str) -> None:
    headers, cookies = credentials(stack, OPERATIONS[(method, path)].security)
    if case.headers:
        case.headers.pop("Authorization", None)  # the generated value would replace the real credential
    try:
        response = case.call(base_url=stack.url, headers=headers, cookies=cookies, timeout=30,
                             allow_redirects=False)
    except requests.RequestException as exc:  # the server dropped the connection: a crash
        pytest.fail(f"{method} {path}: no response ({exc}) for {case.as_curl_command()}")
    STATS[f"{response.status_code // 100}xx"] += 1
    assert response.status_code < 500, (
        f"{method} {path} answered {response.status_code}: {response.text[:300]}\n{case.as_curl_command()}")
    static_404 = path.endswith("/{filename}") and response.status_code == 404
    if 400 <= response.status_code < 500 and not static_404:
        # (a missing static file: aiohttp's FileResponse sets 404 while it sends, after every middleware, with
        # no body; bench/FUZZ.md notes it)
        assert says_why(response), (f"{method} {path} answered {response.status_code} without saying why\n"
                                    f"{case.as_curl_command()}")


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize(("method", "path"), FUZZED, ids=[f"{m} {p}" for m, p in FUZZED])
def test_fuzz_operation(fuzz_stack: FuzzStack, method: str, path: str, mode: GenerationMode) -> None:
    operation = SCHEMA[path][method]

    @seed(SEED)
    @settings(max_examples=EXAMPLES, database=None, deadline=None, derandomize=False,
              phases=[Phase.explicit, Phase.generate, Phase.shrink],
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        check(fuzz_stack, case, method, path)

    try:
        run()
    except Exception as exc:
        if "Unsatisfiable" in type(exc).__name__ and mode == GenerationMode.NEGATIVE:
            pytest.skip("no schema-violating request exists for this operation")
        raise


def test_the_fuzz_covered_the_api(fuzz_stack: FuzzStack) -> None:
    """Runs last in this module: enough operations were fuzzed, and requests were answered (not all
    refused)."""
    assert len(FUZZED) >= 70
    print(f"\nfuzzed {len(FUZZED)} operations, seed {SEED}, {EXAMPLES} examples per operation and mode: "
          f"responses by class {dict(sorted(STATS.items()))}")
    assert STATS["2xx"] + STATS["3xx"] > 0 and STATS["4xx"] > 0, STATS


def test_the_requests_the_fuzz_found_stay_answered(fuzz_stack: FuzzStack) -> None:
    """Each input that once answered 500 (bench/FUZZ.md), replayed: now a 4xx or an answer, with a reason."""
    http = requests.Session()
    http.cookies.update(fuzz_stack.cookies)
    url = fuzz_stack.url
    csrf = http.post(url + "/admin/curation/dismiss", data={"csrf": "\u0080"}, allow_redirects=False,
                     timeout=30)
    assert csrf.status_code == 403 and "CSRF" in csrf.text
    boundary = "f85fd666c8d19d56b0a71a04f600c787"
    broken = http.post(url + "/admin/documents/upload", timeout=30, allow_redirects=False,
                       headers={"X-CSRF-Token": fuzz_stack.csrf,
                                "Content-Type": f"multipart/form-data; boundary={boundary}"},
                       data=(f'--{boundary}\r\nContent-Disposition: form-data; name="\x08"\r\n\r\n\r\n'
                             f"--{boundary}--\r\n").encode())
    assert broken.status_code == 400 and broken.json()["error"].startswith("the request body is malformed")
    for query in ({"doc_no": "00\0"}, {"q": "公共租\0赁"}, {"index_no": "abc\0"}):
        page = requests.get(url + "/catalog", params=query, timeout=30)
        assert page.status_code == 200, (query, page.status_code, page.text[:200])
