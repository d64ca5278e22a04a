from django.urls import path

from hub.consumer import HubConsumer

websocket_urlpatterns = [path("ws/v1/", HubConsumer.as_asgi())]
