# The EC2 parts of the Nimbus "EC2 Client Notes" boto 2 examples, run against a cloud of
# the nimbus flavor (Debian's /usr/bin/python3 with python3-boto 2.49).
#
# Copied from the notes with only these changes, each marked "CHANGED:":
#   - connection details: host, port and keys from the environment the Go test sets
#     (EC2_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), and is_secure=False because
#     the local cloud speaks plain HTTP on loopback;
#   - the image id: the cloud's image (EC2_IMAGE_ID) for "image_name", "my_image_name" and
#     'myimage.img';
#   - Python 3 print;
#   - the example's siReqs typo (si_reqs);
#   - a short poll interval instead of 30 s;
#   - 'MyKeypair', which the spot examples name, is created first.
# The Cumulus (S3) upload of the full example is out of scope and left out, as is its S3
# connection. The spot price history section of the notes describes the operation without
# code; the one call marked "ADDED:" is the boto call it describes.

# CHANGED: connection details, image id and poll interval come from the test.
import os
from urllib.parse import urlparse

_endpoint = urlparse(os.environ["EC2_ENDPOINT"])
SERVICE_HOST = _endpoint.hostname
SERVICE_PORT_NUMBER = _endpoint.port
YOUR_ACCESS_ID_HERE = os.environ["AWS_ACCESS_KEY_ID"]
YOUR_SECRET_KEY_HERE = os.environ["AWS_SECRET_ACCESS_KEY"]
IMAGE_ID = os.environ["EC2_IMAGE_ID"]
POLL_SECONDS = float(os.environ.get("EC2_POLL_INTERVAL", "0.05"))

# CHANGED: 'MyKeypair', used by the spot examples, is created first.
import boto
from boto.ec2.regioninfo import RegionInfo
region = RegionInfo(name="nimbus", endpoint=SERVICE_HOST)
conn = boto.connect_ec2(YOUR_ACCESS_ID_HERE, YOUR_SECRET_KEY_HERE,
port=SERVICE_PORT_NUMBER, region=region, is_secure=False)
conn.create_key_pair('MyKeypair')

# --- "Using the EC2 Query frontend from Python with Boto" ---
import boto
from boto.ec2.regioninfo import RegionInfo
# first create a region object and connection
region = RegionInfo(name="nimbus", endpoint=SERVICE_HOST)
conn = boto.connect_ec2(YOUR_ACCESS_ID_HERE, YOUR_SECRET_KEY_HERE,
port=SERVICE_PORT_NUMBER, region=region, is_secure=False)
# then do something with the connection
conn.run_instances(IMAGE_ID)

# --- "A Full Example with Boto" (its Cumulus upload left out) ---
import boto
import time
from boto.ec2.connection import EC2Connection
from boto.ec2.regioninfo import RegionInfo
access_id=YOUR_ACCESS_ID_HERE
access_secret=YOUR_SECRET_KEY_HERE
host=SERVICE_HOST
port=SERVICE_PORT_NUMBER
region = RegionInfo(name="nimbus", endpoint=host)
ec2conn = boto.connect_ec2(access_id, access_secret, region=region, port=port, is_secure=False)
# now run the VM
reservation = ec2conn.run_instances(IMAGE_ID)
instance = reservation.instances[0]
# poll for status
while instance.state != 'running':
    print('instance is %s' % instance.state)
    time.sleep(POLL_SECONDS)
    instance.update()
# terminate the instance
reservation.instances[0].terminate()

# --- "Using spot instances", Query Client (Boto): request ---
import boto
from boto.ec2.regioninfo import RegionInfo
# first create a region object and connection
region = RegionInfo(name="nimbus", endpoint=SERVICE_HOST)
conn = boto.connect_ec2(YOUR_ACCESS_ID_HERE, YOUR_SECRET_KEY_HERE, port=SERVICE_PORT_NUMBER, region=region, is_secure=False)
# Creates a spot instances request for ten m1.small instances.
request = conn.request_spot_instances(0.50, IMAGE_ID, key_name='MyKeypair', instance_type='m1.small')

# --- "Retrieving spot instance Requests" ---
import boto
from boto.ec2.regioninfo import RegionInfo
# first create a region object and connection
region = RegionInfo(name="nimbus", endpoint=SERVICE_HOST)
conn = boto.connect_ec2(YOUR_ACCESS_ID_HERE, YOUR_SECRET_KEY_HERE, port=SERVICE_PORT_NUMBER, region=region, is_secure=False)
# Create a spot instances request for ten m1.small instances.
conn.request_spot_instances(0.50, IMAGE_ID, count=10, key_name='MyKeypair', instance_type='m1.small')
# Describe spot instance requests, and print id and state
si_reqs = conn.get_all_spot_instance_requests()
print('Nr. of Requests: ' + str(len(si_reqs)))
print('Id: ' + si_reqs[0].id + ' State: ' + si_reqs[0].state)

# --- "Canceling Spot Instance Requests" ---
import boto
from boto.ec2.regioninfo import RegionInfo
# first create a region object and connection
region = RegionInfo(name="nimbus", endpoint=SERVICE_HOST)
conn = boto.connect_ec2(YOUR_ACCESS_ID_HERE, YOUR_SECRET_KEY_HERE, port=SERVICE_PORT_NUMBER, region=region, is_secure=False)
# Creates a spot instances request for ten m1.small instances.
spot_req = conn.request_spot_instances(0.50, IMAGE_ID, count=10, type='one-time', key_name='MyKeypair', instance_type='m1.small')
# Cancel the submitted spot request
si_reqs = conn.cancel_spot_instance_requests([spot_req[0].id])

# ADDED: the Spot Price history the notes describe (start time, end time, instance type).
history = conn.get_spot_price_history(instance_type='m1.small')
print('Spot price history: ' + ', '.join('%s %s' % (h.timestamp, h.price) for h in history[:3]))

# The test reads these lines to check what the examples did.
print('CHECK requests=%d cancelled=%s' % (len(conn.get_all_spot_instance_requests()), si_reqs[0].state))
print('CHECK history=%d' % len(history))
