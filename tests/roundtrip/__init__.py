"""Round trips: each adapter's real requests sent to the sandbox, both sides checked."""
