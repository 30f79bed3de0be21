"""Adapters: a vendor's transcript events → the hotline protocol's frames (connectors/hotline.py).

``AmazonConnectAdapter`` reads Amazon Connect Contact Lens real-time events (the Kinesis stream of a contact's
analysis segments)::

    {"Version": "1.0.0", "Channel": "VOICE", "ContactId": "…", "EventType": "STARTED"|"SEGMENTS"|"COMPLETED"|
     "FAILED", "Segments": [
        {"Utterance": {"Id", "TranscriptId", "ParticipantRole": "CUSTOMER"|"AGENT", "PartialContent",
                       "BeginOffsetMillis", "EndOffsetMillis"}},
        {"Transcript": {"Id", "ParticipantRole", "Content", "BeginOffsetMillis", "EndOffsetMillis",
                        "IsPartial"?, "Sentiment"?}},
        {"Categories": …}, {"Issues": …}]}

* ``STARTED`` → ``start`` (``started_at`` from the event's ``StartTime`` when present); ``COMPLETED`` and
  ``FAILED`` → ``end``.
* A ``Transcript`` is a final segment unless it says ``"IsPartial": true``; an ``Utterance`` is a partial of
  the transcript it names (``TranscriptId``).  ``CUSTOMER`` is the caller, ``AGENT`` the agent; other roles
  (``SYSTEM``, ``SUPERVISOR``) are skipped.
* Vendor ids are UUIDs, the protocol's ``seq`` an integer: the adapter numbers each contact's transcripts in
  the order of their ``BeginOffsetMillis`` — ``seq = BeginOffsetMillis × 2`` (+1 for the agent), so a
  resent or late event gets the same ``seq`` and the connector's idempotence and reordering apply; partial
  utterances take their transcript's ``seq`` (remembered by ``TranscriptId``), so the final replaces them.
* Categories, issues, sentiment and unknown segment kinds are ignored.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from core.errors import InvalidInput

ROLES = {"CUSTOMER": "caller", "AGENT": "agent"}
MAX_REMEMBERED = 100_000  # transcript ids remembered (their seq) across all contacts


class AmazonConnectAdapter:
    def __init__(self) -> None:
        self._seq_of: OrderedDict[tuple[str, str], int] = OrderedDict()

    def _seq(self, contact: str, transcript_id: str, begin: int, speaker: str) -> int:
        key = (contact, transcript_id)
        seq = self._seq_of.get(key)
        if seq is None:
            seq = begin * 2 + (1 if speaker == "agent" else 0)
            self._seq_of[key] = seq
            if len(self._seq_of) > MAX_REMEMBERED:
                self._seq_of.popitem(last=False)
        return seq

    def frames(self, event: Any) -> list[dict[str, Any]]:
        """The protocol frames (JSON objects, as a sender would send them) for one Contact Lens event."""
        if not isinstance(event, dict):
            raise InvalidInput("a Contact Lens event must be a JSON object")
        contact = event.get("ContactId")
        if not isinstance(contact, str) or not contact:
            raise InvalidInput("the event has no ContactId")
        kind = event.get("EventType")
        if kind == "STARTED":
            return [{"type": "start", "call_id": contact, "started_at": str(event.get("StartTime", ""))}]
        if kind in ("COMPLETED", "FAILED"):
            return [{"type": "end", "call_id": contact}]
        if kind != "SEGMENTS":
            raise InvalidInput(f"unknown Contact Lens EventType {kind!r}")
        segments = event.get("Segments")
        if not isinstance(segments, list):
            raise InvalidInput("a SEGMENTS event needs a Segments list")
        out: list[dict[str, Any]] = []
        for item in segments:
            if not isinstance(item, dict):
                continue
            if "Transcript" in item:
                frame = self._segment(contact, item["Transcript"], final_unless_partial=True)
            elif "Utterance" in item:
                frame = self._segment(contact, item["Utterance"], final_unless_partial=False)
            else:
                continue
            if frame is not None:
                out.append(frame)
        return out

    def _segment(self, contact: str, body: Any, final_unless_partial: bool) -> dict[str, Any] | None:
        if not isinstance(body, dict):
            raise InvalidInput("a Transcript or Utterance must be an object")
        speaker = ROLES.get(str(body.get("ParticipantRole", "")).upper())
        if speaker is None:
            return None
        begin, end = body.get("BeginOffsetMillis"), body.get("EndOffsetMillis", body.get("BeginOffsetMillis"))
        if not isinstance(begin, int) or not isinstance(end, int) or isinstance(begin, bool):
            raise InvalidInput("BeginOffsetMillis and EndOffsetMillis must be integers")
        if final_unless_partial:
            transcript_id = str(body.get("Id", ""))
            text = body.get("Content", "")
            is_final = body.get("IsPartial") is not True
        else:
            transcript_id = str(body.get("TranscriptId") or body.get("Id", ""))
            text = body.get("PartialContent", body.get("Content", ""))
            is_final = False
        if not transcript_id:
            raise InvalidInput("a Transcript or Utterance needs an Id")
        if not isinstance(text, str):
            raise InvalidInput("Content must be a string")
        seq = self._seq(contact, transcript_id, begin, speaker)
        return {"type": "segment", "call_id": contact, "seq": seq, "speaker": speaker, "text": text,
                "is_final": is_final, "start_ms": begin, "end_ms": max(begin, end)}
