from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from accounts.me import me_count_register
        from notifications.selectors import unread_count

        me_count_register("unread_notifications", unread_count)
