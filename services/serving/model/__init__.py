"""The registered model in the serving process: which version an alias holds (`store`), the version
being served and its atomic swap (`slot`), the watcher that follows an alias (`watcher`), the check a
version passes before it serves (`smoke_test`), and the micro-batcher tensor requests share (`batching`)."""
