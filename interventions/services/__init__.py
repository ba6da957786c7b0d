"""Writes of `interventions`: rendering, queueing and sending deliveries, tracking.

`rendering`: templates to messages. `deliveries`: queue (opt-outs, suppressions, caps, quiet
hours) and send. `tracking`: signed open / click / unsubscribe links. Import from here.
"""
