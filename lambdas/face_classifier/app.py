def lambda_handler(event, context):
    print("got", event)
    return {"ok": True}
