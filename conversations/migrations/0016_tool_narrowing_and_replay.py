"""Per-model tool narrowing (LLMModel.allowed_tools) and the flag that makes a reply's start replay
earlier tool calls (Conversation.has_tool_calls), set for every conversation that already has some."""

from django.db import migrations, models


def flag_conversations_with_tool_calls(apps, schema_editor):
    Message = apps.get_model("conversations", "Message")
    Conversation = apps.get_model("conversations", "Conversation")
    replies = Message.objects.filter(role="assistant").exclude(parts=[]).values_list("conversation_id", "parts")
    with_calls = {
        conversation_id
        for conversation_id, parts in replies.iterator()
        if any(isinstance(part, dict) and part.get("type") == "tool_call" for part in parts or [])
    }
    Conversation.objects.filter(id__in=with_calls).update(has_tool_calls=True)


class Migration(migrations.Migration):

    dependencies = [
        ("conversations", "0015_conversation_imported_bytes"),
    ]

    operations = [
        migrations.AddField(
            model_name="conversation",
            name="has_tool_calls",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="llmmodel",
            name="allowed_tools",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="Only these tools and MCP servers are offered to it; none: all of them.",
            ),
        ),
        migrations.RunPython(flag_conversations_with_tool_calls, migrations.RunPython.noop),
    ]
