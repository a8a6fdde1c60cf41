from cogs.utils.render import redacted


def test_history_masks_every_secret_named_value_however_deep() -> None:
    data = {
        "settings": {
            "password": "hunter2",
            "srs": {"blue_password": "b", "red_password": "", "port": 5002},
            "tacview": {"telemetry_password": "t"},
        },
        "changed": ["password"],
        "api_token": "abc",
    }
    assert redacted(data) == {
        "settings": {
            "password": "********",
            "srs": {"blue_password": "********", "red_password": "", "port": 5002},
            "tacview": {"telemetry_password": "********"},
        },
        "changed": ["password"],
        "api_token": "********",
    }
