"""Which address an IP address really is: IPv6 forms that carry an IPv4 address are judged as it.

An IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::a.b.c.d, and the
local-use 64:ff9b:1::/48 with the same layout), 6to4 (2002:aabb:ccdd::) or Teredo address is, for
privacy and for safety, the IPv4 address inside it: it is truncated as IPv4 (a /48 of a 6to4
address would keep the whole IPv4 address) and a webhook target is public only if that address is.
"""
import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/96"))


def embedded_ipv4(addr: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries, or None for a plain IPv6 address."""
    if addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    if addr.sixtofour is not None:
        return addr.sixtofour
    if addr.teredo is not None:
        return addr.teredo[1]  # the client's public address (the server's is the relay)
    value = int(addr)
    if any(addr in net for net in _NAT64) or (value >> 32 == 0 and value > 1):  # NAT64, or IPv4-compatible
        return ipaddress.IPv4Address(value & 0xFFFFFFFF)
    return None


def judged(addr: IPAddress) -> IPAddress:
    """The address to judge (locate, truncate, check as public): the embedded IPv4 one if any."""
    if addr.version == 6:
        return embedded_ipv4(addr) or addr
    return addr
