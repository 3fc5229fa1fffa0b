"""Chat-message helpers shared by the conversation driver and the benchmarks that converse:
the calls a generation made, its answer without them, and its entry in the history.

A primitive: benchmarks (BFCL, Tau-Bench) and scorers use these without importing the driver
that runs their conversations (exaone_eval/conversation.py).
"""

from __future__ import annotations

import json
import re

from exaone_eval.types import Generation

# EXAONE 4.0's chat template (like Hermes) writes a call as <tool_call>{"name": ..., "arguments": {...}}</tool_call>.
TOOL_CALL_RE = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>", re.DOTALL)


def tool_calls_of(gen: Generation) -> list[dict]:
    """The calls a generation made, as `{"id", "name", "arguments": dict}`.

    From the server's parsed `tool_calls` when it sent them (vLLM's tool parser, a hosted API),
    else from `<tool_call>` blocks in the answer (the bundled and in-process vLLM backends return
    raw text). A block that is not a JSON object with a name is skipped: the model made no call
    there, which the benchmark scores as such.
    """
    calls = []
    if gen.tool_calls:
        for i, call in enumerate(gen.tool_calls):
            fn = call.get("function") or {}
            args = fn.get("arguments")
            if isinstance(args, str):
                try:
                    args = json.loads(args) if args.strip() else {}
                except json.JSONDecodeError:
                    args = {"__unparsed__": args}
            calls.append({"id": call.get("id") or f"call_{i}", "name": fn.get("name", ""), "arguments": args if isinstance(args, dict) else {}})
        return calls
    for i, block in enumerate(TOOL_CALL_RE.findall(gen.answer)):
        try:
            obj = json.loads(block)
        except json.JSONDecodeError:
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
            continue
        args = obj.get("arguments", obj.get("parameters", {}))
        if isinstance(args, str):
            try:
                args = json.loads(args)
            except json.JSONDecodeError:
                args = {"__unparsed__": args}
        calls.append({"id": f"call_{i}", "name": obj["name"], "arguments": args if isinstance(args, dict) else {}})
    return calls


def answer_text(gen: Generation) -> str:
    """The answer without its `<tool_call>` blocks (what a reader, or a user simulator, sees)."""
    return TOOL_CALL_RE.sub("", gen.answer).strip()


def assistant_message(gen: Generation) -> dict:
    """The history entry for a model turn: its answer only (reasoning dropped, as EXAONE's chat
    template drops earlier reasoning), with its calls in OpenAI form when it made any."""
    calls = tool_calls_of(gen)
    if not calls:
        return {"role": "assistant", "content": gen.answer}
    return {
        "role": "assistant",
        "content": answer_text(gen),
        "tool_calls": [
            {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": json.dumps(c["arguments"], ensure_ascii=False)}}
            for c in calls
        ],
    }
