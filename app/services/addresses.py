"""Which address an IP address really is: IPv6 forms that carry an IPv4 address are judged as it.

An IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::a.b.c.d, and the
local-use 64:ff9b:1::/48 with the same layout), 6to4 (2002:aabb:ccdd::) or Teredo address is, for
privacy and for safety, the IPv4 address inside it: it is truncated as IPv4 (a /48 of a 6to4
address would keep the whole IPv4 address) and a webhook target or a scanned page is public only if
that address is (`is_public`, `resolve_public`: the one rule for what the service may reach).
"""
import ipaddress
import socket

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


def is_public(addr: IPAddress) -> bool:
    """Whether an address may be reached from the service on a tenant's behalf (a webhook, a
    scanned page): global unicast only, judged as the IPv4 address it carries if any."""
    addr = judged(addr)
    return addr.is_global and not addr.is_multicast


class AddressRefused(ValueError):
    """A host that must not be reached: `reason` is "unresolvable" or "non-public"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def resolve_public(host: str, port: int) -> str:
    """The address to connect to for `host`: its first address, if every address it resolves to is
    public (a name with one private address among public ones is refused); else AddressRefused.
    The address itself is never named in the refusal: it may be internal."""
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, OSError):
        raise AddressRefused("unresolvable") from None
    if not infos:
        raise AddressRefused("unresolvable")
    for info in infos:
        try:
            addr = ipaddress.ip_address(info[4][0].split("%")[0])
        except ValueError:
            raise AddressRefused("unresolvable") from None
        if not is_public(addr):
            raise AddressRefused("non-public")
    return infos[0][4][0]
