"""Admin for conversations and messages: reading for support, not rewriting history."""

from django.contrib import admin

from chat.models import Conversation, Message, Participant


class ParticipantInline(admin.TabularInline):
    model = Participant
    extra = 0
    can_delete = False
    readonly_fields = ("user", "last_read_message_id", "last_notified_message_id")


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ("id", "student", "instructor", "updated_at")
    search_fields = ("student__email", "instructor__email")
    list_select_related = ("student", "instructor")
    readonly_fields = ("student", "instructor", "last_message", "created_at", "updated_at")
    inlines = [ParticipantInline]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("id", "conversation", "sender", "created_at", "edited_at", "deleted_at")
    list_filter = ("deleted_at",)
    search_fields = ("body", "sender__email")
    list_select_related = ("sender", "conversation")
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in Message._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
