"""The HTTP side of serving: the routes (`routes`), the one serve path both prediction routes take
(`serve`), how each turns its request into work for the model (`predict`, `invocations`), and the
per-route request metrics (`request_metrics`)."""
