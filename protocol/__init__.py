"""What the device and the server must agree on: the round instructions and the persona schema."""
