pytest_plugins = ["tests.fakes.moto_server"]
