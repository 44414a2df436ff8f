"""Device bootstrap: new-device requests and the one-time hand-over of device credentials."""
