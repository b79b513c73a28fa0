"""The interop scenario with boto3 (run by Debian's /usr/bin/python3 with python3-boto3).

usage: boto3_scenario.py PART      PART is instances, keypairs or spot

The endpoint, keys and image come from the environment the Go test sets: EC2_ENDPOINT,
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION, EC2_IMAGE_ID,
EC2_PUBLIC_KEY_FILE, EC2_POLL_INTERVAL and EC2_STATE_TIMEOUT (seconds). It prints what it
does and exits non-zero, with the reason, at the first thing a real client would trip on.
"""
import os
import sys
import time

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

POLL = float(os.environ.get("EC2_POLL_INTERVAL", "0.05"))
TIMEOUT = float(os.environ.get("EC2_STATE_TIMEOUT", "60"))
IMAGE = os.environ["EC2_IMAGE_ID"]


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def client():
    # One attempt per call: no fault is injected, so a retry could only hide an error.
    return boto3.client(
        "ec2",
        endpoint_url=os.environ["EC2_ENDPOINT"],
        region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        config=Config(retries={"total_max_attempts": 1}),
    )


def error_code(call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"]
    return None


def describe(ec2, iid):
    out = ec2.describe_instances(InstanceIds=[iid])
    for r in out["Reservations"]:
        for i in r["Instances"]:
            if i["InstanceId"] == iid:
                return i
    fail("DescribeInstances answered without " + iid)


def wait_state(ec2, iid, name):
    deadline = time.time() + TIMEOUT
    state = None
    while time.time() < deadline:
        inst = describe(ec2, iid)
        state = inst["State"]["Name"]
        if state == name:
            return inst
        time.sleep(POLL)
    fail("%s is still %s after %ss, want %s" % (iid, state, TIMEOUT, name))


def instances(ec2):
    r = ec2.run_instances(ImageId=IMAGE, InstanceType="m1.small", MinCount=1, MaxCount=1, UserData="hello from boto3")
    check(len(r["Instances"]) == 1, "RunInstances gave %d instances" % len(r["Instances"]))
    inst = r["Instances"][0]
    iid = inst["InstanceId"]
    print("launched", iid, inst["State"]["Name"], "client token", inst.get("ClientToken"))
    check(inst["State"]["Name"] == "pending", "new instance is " + inst["State"]["Name"])
    check(inst.get("ClientToken"), "boto3 fills ClientToken; the answer should carry it")
    inst = wait_state(ec2, iid, "running")
    for k in ("PublicDnsName", "PrivateDnsName", "PublicIpAddress", "PrivateIpAddress", "LaunchTime"):
        check(inst.get(k), "running instance has no " + k)
    print("running at", inst["PublicDnsName"], inst["PublicIpAddress"])
    ec2.create_tags(Resources=[iid], Tags=[{"Key": "Name", "Value": "interop-boto3"}])
    found = ec2.describe_instances(Filters=[{"Name": "tag:Name", "Values": ["interop-boto3"]}])
    check(any(i["InstanceId"] == iid for r in found["Reservations"] for i in r["Instances"]),
          "tag:Name filter does not find " + iid)
    tags = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [iid]}])["Tags"]
    check({"Key": "Name", "Value": "interop-boto3", "ResourceId": iid, "ResourceType": "instance"} in tags,
          "DescribeTags: %r" % tags)
    t = ec2.terminate_instances(InstanceIds=[iid])["TerminatingInstances"]
    check(len(t) == 1 and t[0]["CurrentState"]["Name"] in ("shutting-down", "terminated"), "TerminateInstances: %r" % t)
    inst = wait_state(ec2, iid, "terminated")
    check(inst.get("StateReason", {}).get("Code") == "Client.UserInitiatedShutdown", "stateReason %r" % inst.get("StateReason"))
    check(error_code(ec2.describe_instances, InstanceIds=["i-0123456789abcdef0"]) == "InvalidInstanceID.NotFound",
          "an unknown instance id is not InvalidInstanceID.NotFound")
    print("terminated", iid)


def keypairs(ec2):
    k = ec2.create_key_pair(KeyName="interop-boto3")
    check(k["KeyMaterial"].startswith("-----BEGIN"), "KeyMaterial %r" % k["KeyMaterial"][:40])
    check(k["KeyFingerprint"], "no fingerprint")
    print("created key, fingerprint", k["KeyFingerprint"])
    check(error_code(ec2.create_key_pair, KeyName="interop-boto3") == "InvalidKeyPair.Duplicate", "duplicate key accepted")
    with open(os.environ["EC2_PUBLIC_KEY_FILE"], "rb") as f:
        imp = ec2.import_key_pair(KeyName="interop-boto3-imported", PublicKeyMaterial=f.read())
    check(imp["KeyFingerprint"], "ImportKeyPair gave no fingerprint")
    d = ec2.describe_key_pairs(KeyNames=["interop-boto3"])["KeyPairs"]
    check(len(d) == 1 and d[0]["KeyFingerprint"] == k["KeyFingerprint"], "DescribeKeyPairs: %r" % d)
    names = [p["KeyName"] for p in ec2.describe_key_pairs()["KeyPairs"]]
    check("interop-boto3" in names and "interop-boto3-imported" in names, "DescribeKeyPairs lists %r" % names)
    r = ec2.run_instances(ImageId=IMAGE, MinCount=1, MaxCount=1, KeyName="interop-boto3")
    check(r["Instances"][0].get("KeyName") == "interop-boto3", "keyName not in RunInstances' answer")
    ec2.terminate_instances(InstanceIds=[r["Instances"][0]["InstanceId"]])
    ec2.delete_key_pair(KeyName="interop-boto3")
    ec2.delete_key_pair(KeyName="interop-boto3-imported")
    check(error_code(ec2.describe_key_pairs, KeyNames=["interop-boto3"]) == "InvalidKeyPair.NotFound", "deleted key still found")
    print("deleted keys")


def spot(ec2):
    r = ec2.request_spot_instances(SpotPrice="0.50", InstanceCount=1, Type="one-time",
                                   LaunchSpecification={"ImageId": IMAGE, "InstanceType": "m1.small"})
    check(len(r["SpotInstanceRequests"]) == 1, "RequestSpotInstances: %r" % r["SpotInstanceRequests"])
    sir = r["SpotInstanceRequests"][0]["SpotInstanceRequestId"]
    print("requested", sir, r["SpotInstanceRequests"][0]["State"])
    deadline = time.time() + TIMEOUT
    req = None
    while time.time() < deadline:
        req = ec2.describe_spot_instance_requests(SpotInstanceRequestIds=[sir])["SpotInstanceRequests"][0]
        if req["State"] == "active" and req.get("InstanceId"):
            break
        time.sleep(POLL)
    else:
        fail("spot request not active after %ss: %r" % (TIMEOUT, req))
    iid = req["InstanceId"]
    inst = describe(ec2, iid)
    check(inst.get("InstanceLifecycle") == "spot" and inst.get("SpotInstanceRequestId") == sir, "spot instance %r" % inst)
    hist = ec2.describe_spot_price_history(InstanceTypes=["m1.small"])["SpotPriceHistory"]
    check(hist and float(hist[0]["SpotPrice"]) == 0.05, "DescribeSpotPriceHistory: %r" % hist[:1])
    c = ec2.cancel_spot_instance_requests(SpotInstanceRequestIds=[sir])["CancelledSpotInstanceRequests"]
    check(len(c) == 1 and c[0]["State"] == "cancelled", "CancelSpotInstanceRequests: %r" % c)
    ec2.terminate_instances(InstanceIds=[iid])
    print("cancelled", sir, "and terminated", iid)


PARTS = {"instances": instances, "keypairs": keypairs, "spot": spot}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in PARTS:
        fail("usage: boto3_scenario.py " + "|".join(PARTS))
    PARTS[sys.argv[1]](client())
    print("OK")
