"""rr's entry points: process start-up (`main`), the running process (`app`), its web app
(`web`) and the offline Discord sandbox (`sandbox`). Only these and `bot.bootstrap` see every
layer; the core never imports them."""
