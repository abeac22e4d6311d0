"""ThreadStore.search: hostile text, snippets, titles, trash and user filters, shared history, best order."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui_agents.store import MessageStore, ThreadStore, connect
from tui_agents.store.search import MAX_TERMS, match_expression, parse_query

HOSTILE = ['"', "'", "AND(", "*", "NEAR/2", "col:value", "🙂", "a" * 10_000, "word " * 2_000, "", "   ",
           '"unbalanced', "OR", "NOT x", "-x", "^start", "(", ")", "{col}", "x:y:z", "NEAR(a b)", "\x00", "th*"]


@pytest.fixture
async def corpus(threads, messages, agent):
    t = await threads.create(agent_id=agent["id"], user_id="u1", title="Pool maintenance")
    texts = ["The pool filter needs a col:value check", "Thermostat readings AND( odd", "emoji 🙂 party tonight",
             'She said "hello" and it\'s fine', "near the beach NEAR/2 house"]
    sent = [await messages.add(t["id"], "user", text) for text in texts]
    return t, sent


@pytest.mark.parametrize("query", HOSTILE)
async def test_hostile_queries_never_raise(threads, corpus, query):
    for order in ("newest", "best"):
        hits = await threads.search(query, order=order)
        assert isinstance(hits, list)


async def test_hostile_queries_still_find_what_they_should(threads, corpus):
    _, sent = corpus
    assert [h["message_id"] for h in await threads.search("col:value")] == [sent[0]["id"]]
    assert [h["message_id"] for h in await threads.search("AND( odd")] == [sent[1]["id"]]
    assert [h["message_id"] for h in await threads.search("🙂 party")] == [sent[2]["id"]]
    assert [h["message_id"] for h in await threads.search('"hello"')] == [sent[3]["id"]]
    assert [h["message_id"] for h in await threads.search("it's")] == [sent[3]["id"]]
    assert [h["message_id"] for h in await threads.search("NEAR/2 beach")] == [sent[4]["id"]]
    assert [h["message_id"] for h in await threads.search("therm*")] == [sent[1]["id"]]
    assert await threads.search("") == [] and await threads.search("🙂") == [] and await threads.search("*") == []


async def test_hits_have_the_contract_keys_and_highlighted_snippets(threads, corpus):
    t, sent = corpus
    hits = await threads.search("filter")
    assert len(hits) == 1
    hit = hits[0]
    assert set(hit) >= {"thread_id", "thread_title", "message_id", "role", "snippet", "created_at", "score"}
    assert (hit["thread_id"], hit["thread_title"], hit["role"]) == (t["id"], "Pool maintenance", "user")
    assert "[[filter]]" in hit["snippet"]


async def test_title_hits_have_no_message_id(threads, corpus):
    t, _ = corpus
    hits = await threads.search("maintenance")
    assert [(h["thread_id"], h["message_id"], h["snippet"]) for h in hits] == [(t["id"], None, "Pool [[maintenance]]")]
    both = await threads.search("pool")
    assert {h["message_id"] for h in both} == {None, corpus[1][0]["id"]}


async def test_newest_first_by_default_and_limit(threads, messages, thread):
    sent = [await messages.add(thread["id"], "user", f"apple number {i}") for i in range(30)]
    hits = await threads.search("apple", limit=5)
    assert [h["message_id"] for h in hits] == [m["id"] for m in reversed(sent[-5:])]


async def test_best_order_ranks_the_better_match_first(threads, messages, thread):
    strong = await messages.add(thread["id"], "user", "kiwi kiwi kiwi kiwi")
    for i in range(5):
        await messages.add(thread["id"], "user", f"a long message that mentions kiwi once among many other words {i}")
    hits = await threads.search("kiwi", order="best")
    assert hits[0]["message_id"] == strong["id"]
    assert hits[0]["score"] > hits[-1]["score"] > 0
    assert len(hits) == 6
    prefixed = await threads.search("kiw*", order="best")
    assert prefixed[0]["message_id"] == strong["id"] and prefixed[0]["snippet"].count("[[kiwi]]") == 4
    assert all("[[kiwi]]" in h["snippet"] for h in prefixed)


async def test_trashed_and_other_users_threads_are_excluded(threads, messages, agent):
    mine = await threads.create(agent_id=agent["id"], user_id="u1")
    theirs = await threads.create(agent_id=agent["id"], user_id="u2", title="banana split")
    await messages.add(mine["id"], "user", "banana bread")
    await messages.add(theirs["id"], "user", "banana cake")
    assert {h["thread_id"] for h in await threads.search("banana", user_id="u1")} == {mine["id"]}
    assert len(await threads.search("banana")) == 3
    await threads.trash(theirs["id"])
    assert {h["thread_id"] for h in await threads.search("banana")} == {mine["id"]}
    await threads.archive(mine["id"])
    assert {h["thread_id"] for h in await threads.search("banana")} == {mine["id"]}


async def test_shared_history_is_one_hit_attributed_to_the_newest_thread(threads, messages, thread):
    shared = await messages.add(thread["id"], "user", "mango smoothie recipe")
    fork1 = await threads.fork(thread["id"])
    fork2 = await threads.fork(thread["id"])
    hits = await threads.search("mango")
    assert len(hits) == 1
    assert hits[0]["thread_id"] == fork2["id"] and hits[0]["other_threads"] == 2
    assert hits[0]["message_id"] != shared["id"]
    await threads.trash(fork2["id"])
    hits = await threads.search("mango")
    assert [(h["thread_id"], h["other_threads"]) for h in hits] == [(fork1["id"], 1)]


def test_match_expression_quotes_every_term_and_caps_their_number():
    assert match_expression(parse_query('foo col:value "two words" th* AND NEAR/2 OR(')) == \
        '"foo" "col:value" "two words" "th"*'
    assert match_expression(parse_query("")) is None
    assert match_expression(parse_query('" \' * 🙂')) is None
    assert len(parse_query("w " * 1000)) == MAX_TERMS


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=300))
async def test_arbitrary_text_never_raises_and_finds_itself(tmp_path_factory, text):
    conn = await connect(tmp_path_factory.mktemp("hyp") / "s.db")
    try:
        threads, messages = ThreadStore(conn), MessageStore(conn)
        thread = await threads.create(agent_id=None)
        msg = await messages.add(thread["id"], "user", text)
        for order in ("newest", "best"):
            hits = await threads.search(text, order=order)
            if parse_query(text):
                assert [h["message_id"] for h in hits] == [msg["id"]]
            else:
                assert hits == []
    finally:
        await conn.close()


async def test_the_last_word_typed_matches_as_a_prefix_and_user_text_stays_text(tmp_path):
    conn = await connect(tmp_path / "p.db")
    try:
        threads, messages = ThreadStore(conn), MessageStore(conn)
        thread = await threads.create(agent_id=None)
        hit = await messages.add(thread["id"], "user", "a question about (queues) - NEAR the end")
        assert await threads.search("que") == []  # the engine's default: whole words
        assert [h["message_id"] for h in await threads.search("que", prefix_last=True)] == [hit["id"]]
        assert [h["message_id"] for h in await threads.search("about que", prefix_last=True)] == [hit["id"]]
        for text in ('que"', 'que*', '-que', "NEAR(que", "(que)", 'que" OR "x', "que -", "*", '"que', "que NEAR"):
            for order in ("newest", "best"):
                await threads.search(text, order=order, prefix_last=True)  # never an FTS syntax error
        assert match_expression(parse_query('que" OR (x', prefix_last=True)) == '"que" "(x"*'  # quoted: plain text
        assert match_expression(parse_query('"two words"', prefix_last=True)) == '"two words"'  # a phrase as typed
        assert match_expression(parse_query("foo.", prefix_last=True)) == '"foo."'  # no prefix after punctuation
    finally:
        await conn.close()
