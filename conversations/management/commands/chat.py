"""Send a message as a user and print the reply as it streams: the generation service from a terminal."""

from __future__ import annotations

import asyncio
import json

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from conversations import generation, services
from conversations.realtime.broadcast import conversation_group


class Command(BaseCommand):
    help = (
        "Send MESSAGE as USERNAME and print the reply as it streams. The reply is saved like any "
        "other, and with REDIS_URL set every open browser tab on the conversation watches it stream."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("message")
        parser.add_argument("--conversation", help="id of one of the user's conversations (default: a new one)")

    def handle(self, *args, username: str, message: str, conversation: str | None, **options) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        conversation_id = conversation or services.conversation_create(owner=user).id
        status = asyncio.run(self.chat(user, conversation_id, message))
        self.stdout.write(f"\n[{status}] conversation {conversation_id}")

    async def chat(self, user, conversation_id, message: str) -> str:
        """Listen on the conversation's group like a socket does, start the reply, print its deltas."""
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(conversation_group(conversation_id), channel)
        try:
            started = await generation.start(
                user=user, conversation_id=conversation_id, content=message, request_id=f"cli-{channel}"
            )
            return await self.print_reply(layer, channel, str(started.reply.id))
        except generation.Refused as refusal:
            raise CommandError(refusal.detail) from None
        finally:
            await layer.group_discard(conversation_group(conversation_id), channel)
            await generation.shut_down()
            await sync_to_async(connections.close_all)()  # the worker thread's, before its loop ends

    async def print_reply(self, layer, channel: str, reply_id: str) -> str:
        while True:
            event = await layer.receive(channel)
            if event["type"] == "chat.delta" and event["id"] == reply_id:
                self.stdout.write(self.delta_text(event), ending="")
                self.stdout.flush()
            elif event.get("done") == reply_id:
                return self.final_status(event)

    @staticmethod
    def delta_text(event) -> str:
        return json.loads(event["frame"])["delta"]

    @staticmethod
    def final_status(event) -> str:
        message = json.loads(event["frame"])["message"]
        return message["status"] + (f": {message['error']}" if message["error"] else "")
