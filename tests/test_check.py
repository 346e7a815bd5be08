"""Exercise checks pass right answers and explain wrong ones."""

import duplexlab as dl


def good_fetch_new(client, user, after):
    return client.get(f"/api/users/{user}/notifications", params={"after": after}).json()["notifications"]


def test_fetch_new_passes_a_right_answer_and_fails_wrong_ones(default_lab):
    """A correct fetch_new gets ✓; one that ignores `after` or asks twice gets ✗ with a reason."""
    assert dl.check.fetch_new(good_fetch_new).passed

    def ignores_after(client, user, after):
        return client.get(f"/api/users/{user}/notifications").json()["notifications"]

    result = dl.check.fetch_new(ignores_after)
    assert not result.passed and "'after' query parameter" in result.message

    def asks_twice(client, user, after):
        good_fetch_new(client, user, after)
        return good_fetch_new(client, user, after)

    assert "made 2 requests" in dl.check.fetch_new(asks_twice).message
    assert str(dl.check.fetch_new(lambda c, u, a: None)).startswith("✗ fetch_new")


def test_header_share_checks_against_real_captures(default_lab):
    """A right header_share gets ✓; a raising one gets ✗ naming the exception."""

    def share(raw):
        return (raw.index(b"\r\n\r\n") + 4) / len(raw)

    assert dl.check.header_share(share).passed
    bad = dl.check.header_share(lambda raw: 1 / 0)
    assert not bad.passed and "ZeroDivisionError" in bad.message
    try:
        bad.raise_if_failed()
    except dl.CheckFailed as exc:
        assert "header_share" in str(exc)
    else:
        raise AssertionError("raise_if_failed did not raise")


def test_accept_key_check_knows_the_rfc_example():
    """A right Sec-WebSocket-Accept function gets ✓; one that forgets the GUID gets ✗ with the recipe."""
    import base64
    import hashlib

    def right(key):
        guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
        return base64.b64encode(hashlib.sha1((key + guid).encode()).digest()).decode()

    def no_guid(key):
        return base64.b64encode(hashlib.sha1(key.encode()).digest()).decode()

    assert dl.check.accept_key(right).passed
    wrong = dl.check.accept_key(no_guid)
    assert not wrong.passed and "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in wrong.message


def test_an_untouched_stub_is_not_attempted_yet_and_costs_nothing():
    """A stub whose body is only `...` gets a friendly "not attempted yet", without a real run."""

    def polls_per_event(rate, interval): ...  # your code here

    result = dl.check.polls_per_event(polls_per_event)
    assert not result.passed and not result.attempted and result.message.startswith("not attempted yet")
    assert str(result).startswith("○ polls_per_event: not attempted yet")
    assert not dl.check.polls_per_event(lambda rate, interval: None).message.startswith("not attempted")


def test_lesson_6_checks_judge_the_lessons_own_run():
    """polls_per_event and cheapest read the run they are given: figures from that run in the message."""
    with dl.Arena() as arena:
        run = arena.run(rate=8, duration=1.2, poll_interval=0.5, seed=3)
    right = dl.check.polls_per_event(lambda rate, interval: 1 / (rate * interval), run)
    assert right.passed and "interval 0.5 s) says 0.25" in right.message, right.message
    polling = run.results["polling"]
    assert f"{polling.requests / polling.seconds:.2f} polls/s" in right.message
    assert not dl.check.polls_per_event(lambda rate, interval: rate * interval, run).passed

    fewest = min(run.results, key=lambda name: run.results[name].bytes_per_event)
    assert dl.check.cheapest(lambda result: fewest, run).passed
    wrong = next(name for name in run.results if name != fewest)
    verdict = dl.check.cheapest(lambda result: wrong, run)
    assert not verdict.passed and f"the fewest is {fewest!r}" in verdict.message


def test_new_checks_pass_right_answers_and_explain_wrong_ones(default_lab):
    """time_one_request, resume_id and accept_handshake: ✓ for a right answer, ✗ with the reason otherwise."""
    import time

    def timed(client, path):
        t0 = time.perf_counter()
        client.get(path)
        return time.perf_counter() - t0

    assert dl.check.time_one_request(timed).passed
    in_ms = dl.check.time_one_request(lambda client, path: timed(client, path) * 1000)
    assert not in_ms.passed and "milliseconds" in in_ms.message

    def last_id(text):
        last = ""
        for block in text.split("\n\n")[:-1]:
            for line in block.split("\n"):
                if line.startswith("id:"):
                    last = line[3:].removeprefix(" ")
        return last

    assert dl.check.resume_id(last_id).passed
    naive = dl.check.resume_id(lambda text: text.split("id: ")[-1].split("\n")[0])
    assert not naive.passed and "the id to send is" in naive.message

    def only_events_with_data(text):  # the mistake the HTML standard's dispatch rules out
        last = ""
        for block in text.split("\n\n")[:-1]:
            lines = block.split("\n")
            if any(line.startswith("data:") for line in lines):
                last = next((line[3:].removeprefix(" ") for line in lines if line.startswith("id:")), last)
        return last

    id_only = dl.check.resume_id(only_events_with_data)
    assert not id_only.passed and "id: 9" in id_only.message and "is '9'" in id_only.message, id_only.message

    def gate(headers, allowed):
        origin = headers.get("Origin")
        return origin in allowed if origin is not None else headers.get("Sec-Fetch-Site") != "cross-site"

    assert dl.check.accept_handshake(gate).passed
    trusting = dl.check.accept_handshake(lambda headers, allowed: True)
    assert not trusting.passed and "hijacking" in trusting.message


def _bundle(obj) -> dict:
    """What a notebook gets for ``obj`` as a cell's value: its mime bundle, as IPython formats it."""
    from IPython.core.formatters import DisplayFormatter

    data, _ = DisplayFormatter().format(obj)
    return data


def test_a_checks_result_shows_its_mark_boxed_bold_and_in_colour_and_stays_plain_text():
    """As a cell's value: the mark bold, white, in a dark green / dark red / grey box, named for screen
    readers, the check's name bold; text/plain is the printed line, starting with its mark."""
    import re

    from duplexlab.feedback import MARKS, contrast

    def right(key):
        import base64
        import hashlib

        guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
        return base64.b64encode(hashlib.sha1((key + guid).encode()).digest()).decode()

    def untouched(key): ...

    results = {
        "✓": dl.check.accept_key(right),
        "✗": dl.check.accept_key(lambda key: "nope"),
        "○": dl.check.accept_key(untouched),
    }
    for mark, result in results.items():
        data = _bundle(result)
        assert data["text/plain"] == str(result) == repr(result) and data["text/plain"].startswith(f"{mark} accept_key")
        page = data["text/html"]
        meaning, colour = MARKS[mark]
        box = re.search(r'<span class="duplexlab-mark"[^>]*style="([^"]*)"[^>]*>(.)</span>', page)
        assert box and box.group(2) == mark, page
        style = box.group(1)
        assert "font-weight:700" in style and f"background:{colour}" in style and "color:#fff" in style
        assert f'aria-label="{meaning}"' in page and "<b>accept_key</b>" in page
        assert contrast(colour, "#ffffff") >= 4.5  # the white mark on its box, whatever the theme behind it
    assert "font-weight:700" not in re.sub(r'<span class="duplexlab-mark".*?</span>', "", results["✓"]._repr_html_())


def test_a_long_check_message_prints_in_lines_of_100_columns_broken_between_words():
    """A message longer than a notebook's width wraps between words, indented; the words are all there."""
    from duplexlab.check.result import Result

    message = "your function raised ValueError: " + " ".join(f"word{i}" for i in range(60))
    printed = str(Result("fetch_new", False, message))
    lines = printed.splitlines()
    assert len(lines) > 1 and all(len(line) <= 100 for line in lines), lines
    assert all(line.startswith("  ") for line in lines[1:]) and lines[0].startswith("✗ fetch_new: ")
    assert " ".join(printed.split()) == f"✗ fetch_new: {message}"
