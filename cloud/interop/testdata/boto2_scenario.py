"""The interop scenario with boto 2.49 (run by Debian's /usr/bin/python3 with python3-boto).

usage: boto2_scenario.py PART      PART is instances, keypairs, spot or sigv2

The endpoint and keys come from the environment (see boto3_scenario.py). boto 2 is
pointed at the IP address as the old Nimbus and HTCondor documents do, without setting
auth_region_name or auth_service_name: it then signs SigV4 with the scope "0/127", which
the cloud must verify with the request's own scope. The sigv2 part runs the key-pair
scenario signed with Signature Version 2, as pre-2014 tools do.
"""
import os
import sys
import time
from urllib.parse import urlparse

import boto
from boto.ec2.connection import EC2Connection
from boto.ec2.regioninfo import RegionInfo
from boto.exception import EC2ResponseError

POLL = float(os.environ.get("EC2_POLL_INTERVAL", "0.05"))
TIMEOUT = float(os.environ.get("EC2_STATE_TIMEOUT", "60"))
IMAGE = os.environ["EC2_IMAGE_ID"]


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


class SigV2Connection(EC2Connection):
    """An EC2Connection that signs with Signature Version 2 (QuerySignatureV2AuthHandler)."""

    def _required_auth_capability(self):
        return ["ec2"]


def connect(cls=None):
    u = urlparse(os.environ["EC2_ENDPOINT"])
    kwargs = dict(aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
                  aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
                  is_secure=False, port=u.port, path="/")
    region = RegionInfo(name="us-east-1", endpoint=u.hostname)
    if cls is None:
        return boto.connect_ec2(region=region, **kwargs)
    return cls(region=region, **kwargs)


def error_code(call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except EC2ResponseError as e:
        return e.error_code
    return None


def wait_state(inst, name):
    deadline = time.time() + TIMEOUT
    while time.time() < deadline:
        inst.update()
        if inst.state == name:
            return
        time.sleep(POLL)
    fail("%s is still %s after %ss, want %s" % (inst.id, inst.state, TIMEOUT, name))


def instances(conn):
    res = conn.run_instances(IMAGE, instance_type="m1.small", user_data="hello from boto2")
    check(len(res.instances) == 1, "run_instances gave %d instances" % len(res.instances))
    inst = res.instances[0]
    print("launched", inst.id, inst.state, "in", res.id)
    check(inst.state == "pending", "new instance is " + inst.state)
    wait_state(inst, "running")
    for attr in ("public_dns_name", "private_dns_name", "ip_address", "private_ip_address", "launch_time"):
        check(getattr(inst, attr), "running instance has no " + attr)
    print("running at", inst.public_dns_name, inst.ip_address)
    conn.create_tags([inst.id], {"Name": "interop-boto2"})
    found = [i.id for r in conn.get_all_instances(filters={"tag:Name": "interop-boto2"}) for i in r.instances]
    check(inst.id in found, "tag:Name filter found %r" % found)
    tags = conn.get_all_tags(filters={"resource-id": inst.id})
    check(any(t.name == "Name" and t.value == "interop-boto2" for t in tags), "get_all_tags: %r" % tags)
    done = conn.terminate_instances([inst.id])
    check(len(done) == 1 and done[0].id == inst.id, "terminate_instances: %r" % done)
    wait_state(inst, "terminated")
    check(inst.state_reason and inst.state_reason.get("code") == "Client.UserInitiatedShutdown",
          "state_reason %r" % inst.state_reason)
    check(error_code(conn.get_all_instances, instance_ids=["i-0123456789abcdef0"]) == "InvalidInstanceID.NotFound",
          "an unknown instance id is not InvalidInstanceID.NotFound")
    print("terminated", inst.id)


def keypairs(conn, name="interop-boto2"):
    kp = conn.create_key_pair(name)
    check(kp.material.startswith("-----BEGIN"), "material %r" % kp.material[:40])
    check(kp.fingerprint, "no fingerprint")
    print("created key", kp.name, kp.fingerprint)
    check(error_code(conn.create_key_pair, name) == "InvalidKeyPair.Duplicate", "duplicate key accepted")
    with open(os.environ["EC2_PUBLIC_KEY_FILE"], "rb") as f:
        imp = conn.import_key_pair(name + "-imported", f.read())
    check(imp.fingerprint, "import_key_pair gave no fingerprint")
    got = conn.get_all_key_pairs(keynames=[name])
    check(len(got) == 1 and got[0].fingerprint == kp.fingerprint, "get_all_key_pairs: %r" % got)
    names = [k.name for k in conn.get_all_key_pairs()]
    check(name in names and name + "-imported" in names, "get_all_key_pairs lists %r" % names)
    check(conn.delete_key_pair(name), "delete_key_pair")
    check(conn.delete_key_pair(name + "-imported"), "delete_key_pair imported")
    check(error_code(conn.get_all_key_pairs, keynames=[name]) == "InvalidKeyPair.NotFound", "deleted key still found")
    print("deleted keys")


def spot(conn):
    reqs = conn.request_spot_instances("0.50", IMAGE, count=1, type="one-time", instance_type="m1.small")
    check(len(reqs) == 1, "request_spot_instances: %r" % reqs)
    sir = reqs[0].id
    print("requested", sir, reqs[0].state)
    deadline = time.time() + TIMEOUT
    req = None
    while time.time() < deadline:
        req = conn.get_all_spot_instance_requests([sir])[0]
        if req.state == "active" and req.instance_id:
            break
        time.sleep(POLL)
    else:
        fail("spot request not active after %ss: %r" % (TIMEOUT, req and req.state))
    hist = conn.get_spot_price_history(instance_type="m1.small")
    check(hist and hist[0].price == 0.05, "get_spot_price_history: %r" % hist[:1])
    cancelled = conn.cancel_spot_instance_requests([sir])
    check(len(cancelled) == 1 and cancelled[0].state == "cancelled", "cancel_spot_instance_requests: %r" % [
        c.state for c in cancelled])
    conn.terminate_instances([req.instance_id])
    print("cancelled", sir, "and terminated", req.instance_id)


PARTS = {
    "instances": lambda: instances(connect()),
    "keypairs": lambda: keypairs(connect()),
    "spot": lambda: spot(connect()),
    "sigv2": lambda: keypairs(connect(SigV2Connection), "interop-boto2-sigv2"),
}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in PARTS:
        fail("usage: boto2_scenario.py " + "|".join(PARTS))
    PARTS[sys.argv[1]]()
    print("OK")
