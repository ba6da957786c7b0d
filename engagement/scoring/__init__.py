"""Pure numerical core of Stride's drop-off risk model (no Django imports).

``activity`` holds the input shape, ``signals`` turns it into named features, ``labels`` defines
the target, ``model`` trains and serves the risk model, ``evaluation`` measures it.
"""
