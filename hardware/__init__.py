"""Links to the outside: TCP, TLS, serial, MQTT and an in-process loopback, named by endpoint
strings and found in a small registry. A link turns bytes into frames with a framer from
``formats.framing`` and hands frames to a handler; it never interprets them."""
