import django.db.models.deletion
from django.db import migrations, models

from conversations import tree


def freeze_snapshots_at_their_message(apps, schema_editor):
    """Each snapshot link keeps showing what it showed: its anchor is the last message at or before
    its old position on the branch shown now (tree.py is pure, so the rule is the running code's)."""
    ShareLink = apps.get_model("conversations", "ShareLink")
    Message = apps.get_model("conversations", "Message")
    alias = schema_editor.connection.alias
    snapshots = ShareLink.objects.using(alias).filter(mode="snapshot", upto_position__gte=0).select_related("conversation")
    for link in snapshots.iterator():
        nodes = list(
            Message.objects.using(alias)
            .filter(conversation_id=link.conversation_id)
            .values_list("id", "parent_id", "position", named=True)
        )
        shown = tree.active_path(nodes, link.conversation.active_leaf_id)
        kept = [node for node in shown if node.position <= link.upto_position]
        if kept:
            link.upto_message_id = kept[-1].id
            link.save(update_fields=["upto_message"])


def back_to_positions(apps, schema_editor):
    ShareLink = apps.get_model("conversations", "ShareLink")
    for link in ShareLink.objects.using(schema_editor.connection.alias).filter(mode="snapshot").select_related("upto_message"):
        link.upto_position = link.upto_message.position if link.upto_message else -1
        link.save(update_fields=["upto_position"])


class Migration(migrations.Migration):

    dependencies = [
        ("conversations", "0017_message_search"),
    ]

    operations = [
        migrations.AddField(
            model_name="sharelink",
            name="upto_message",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="conversations.message",
            ),
        ),
        migrations.RunPython(freeze_snapshots_at_their_message, back_to_positions),
        migrations.RemoveField(
            model_name="sharelink",
            name="upto_position",
        ),
    ]
