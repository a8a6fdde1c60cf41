"""What runs on a server beside DCS: the agent (Python standard library only) and its DCS hook.

At boot the agent authenticates to rr with the credential minted for this launch, fetches the
server's files and writes them byte-exact under the DCS write folder, installs the hook and
starts SRS and DCS; then it beats every few seconds with what the hook reports (DCS state, the
mission, the players) and passes rr's instructions to the hook. It imports nothing of rr.
"""
