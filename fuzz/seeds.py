#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Write the seed corpora of the fuzz targets: fuzz/corpus/<target>/.

Each seed is a small, meaningful input in the target's own input format
(see the comment at the top of each fuzz_<target>.c): well-formed
vfio-user messages of every command in both directions, a session a
client would really have with a device, config-space access sequences a
driver would make, DMA-table operations, a hostile server's scripts, and
configuration-space images of real device shapes. The fuzzer mutates from
there. Run from anywhere:

    fuzz/seeds.py [OUTDIR]      (default: fuzz/corpus next to this script)

Seeds are named after what they are, so the corpus reads as a list of
cases; re-running rewrites them identically.
"""
import json
import os
import struct
import sys

# --- the wire format (include/uvfio/proto.h) ---------------------------------

VERSION, DMA_MAP, DMA_UNMAP, GET_INFO, GET_REGION_INFO, GET_REGION_IO_FDS, GET_IRQ_INFO, \
    SET_IRQS, REGION_READ, REGION_WRITE, DMA_READ, DMA_WRITE, RESET, DIRTY_PAGES, \
    WRITE_MULTI, FEATURE = range(1, 17)
F_REPLY, F_NO_REPLY, F_ERROR = 0x1, 0x10, 0x20


def hdr(cmd, size=16, flags=0, mid=0, error=0):
    return struct.pack('<HHIII', mid, cmd, size, flags, error)


def msg(cmd, payload=b'', flags=0, mid=0, error=0):
    return hdr(cmd, 16 + len(payload), flags, mid, error) + payload


def version_payload(caps=None, minor=2):
    if caps is None:
        caps = {'max_msg_fds': 8, 'max_data_xfer_size': 1048576, 'pgsizes': 4096,
                'max_dma_maps': 65535}
    j = json.dumps({'capabilities': caps}, separators=(',', ':')).encode()
    return struct.pack('<HH', 0, minor) + j + b'\0'


def dma_map(addr, size, flags=3, offset=0):
    return struct.pack('<IIQQQ', 32, flags, offset, addr, size)


def dma_unmap(addr, size, flags=0):
    return struct.pack('<IIQQ', 24, flags, addr, size)


def dev_info(flags=3, nreg=10, nirq=5):
    return struct.pack('<IIII', 16, flags, nreg, nirq)


def region_info(index, size, flags=3, offset=0, areas=(), rtype=None, argsz=None):
    chain = b''
    caps = []
    if areas:
        caps.append((1, struct.pack('<II', len(areas), 0) +
                     b''.join(struct.pack('<QQ', o, s) for o, s in areas)))
    if rtype is not None:
        caps.append((2, struct.pack('<II', *rtype)))
    off = 32
    for i, (cid, body) in enumerate(caps):
        nxt = 0 if i == len(caps) - 1 else off + 8 + len(body)
        chain += struct.pack('<HHI', cid, 1, nxt) + body
        off += 8 + len(body)
    if caps:
        flags |= 8
    total = 32 + len(chain)
    return struct.pack('<IIIIQQ', argsz or total, flags, index, 32 if caps else 0, size,
                       offset) + chain


def irq_info(index, count, flags=1):
    return struct.pack('<IIII', 16, flags, index, count)


def irq_set(flags, index, start, count, data=b''):
    return struct.pack('<IIIII', 20 + len(data), flags, index, start, count) + data


def region_access(region, offset, count, data=b''):
    return struct.pack('<QII', offset, region, count) + data


def dma_access(addr, count, data=b''):
    return struct.pack('<QQ', addr, count) + data


def write_multi(entries):
    b = struct.pack('<Q', len(entries))
    for off, reg, data in entries:
        b += struct.pack('<QII', off, reg, len(data)) + data.ljust(8, b'\0')
    return b


def feature(flags, data=b''):
    return struct.pack('<II', 8 + len(data), flags) + data


def le16(v):
    return struct.pack('<H', v)


def le32(v):
    return struct.pack('<I', v)


def le64(v):
    return struct.pack('<Q', v)


# --- fuzz_proto ---------------------------------------------------------------


def proto_seeds():
    s = {}

    def message(name, cmd, payload, flags=0, xfer=5, fds=1, nfds=0, error=0):
        # byte 0: 0 = whole message; limits; fds; the header; raw=0; the payload
        s['msg-' + name] = (bytes([0, xfer, fds, nfds]) + hdr(cmd, 16 + len(payload), flags, 7, error)
                            + b'\0' + payload)

    message('version-req', VERSION, version_payload())
    message('version-rep', VERSION, version_payload({'max_msg_fds': 16, 'twin_socket':
                                                     {'supported': True, 'fd_index': 0}}),
            F_REPLY, nfds=1)
    message('dma-map-fd', DMA_MAP, dma_map(0x100000, 0x10000), nfds=1)
    message('dma-map-nofd', DMA_MAP, dma_map(0x200000, 0x4000, 1))
    message('dma-unmap', DMA_UNMAP, dma_unmap(0x100000, 0x10000))
    message('dma-unmap-all', DMA_UNMAP, dma_unmap(0, 0, 2))
    message('dma-unmap-rep', DMA_UNMAP, dma_unmap(0x100000, 0x10000), F_REPLY)
    message('get-info-req', GET_INFO, dev_info(0, 0, 0))
    message('get-info-rep', GET_INFO, dev_info(), F_REPLY)
    message('region-info-req', GET_REGION_INFO, region_info(2, 0, 0, argsz=32)[:32])
    message('region-info-rep', GET_REGION_INFO,
            region_info(2, 0x10000, 7, 0, [(0, 0xe000)], (0x80000000, 1)), F_REPLY, nfds=1)
    message('irq-info-req', GET_IRQ_INFO, irq_info(2, 0, 0))
    message('irq-info-rep', GET_IRQ_INFO, irq_info(2, 4, 3), F_REPLY)
    message('set-irqs-eventfd', SET_IRQS, irq_set(0x24, 2, 0, 2), nfds=2, fds=8)
    message('set-irqs-bool', SET_IRQS, irq_set(0x22, 2, 0, 3, b'\1\0\1'))
    message('region-read-req', REGION_READ, region_access(7, 0, 64))
    message('region-read-rep', REGION_READ, region_access(7, 0, 4, b'\x34\x12\x41\x4d'), F_REPLY)
    message('region-write-req', REGION_WRITE, region_access(0, 8, 4, le32(1)))
    message('region-write-rep', REGION_WRITE, region_access(0, 8, 4), F_REPLY)
    message('dma-read-req', DMA_READ, dma_access(0x200000, 64))
    message('dma-read-rep', DMA_READ, dma_access(0x200000, 4, b'abcd'), F_REPLY)
    message('dma-write-req', DMA_WRITE, dma_access(0x200000, 4, b'abcd'))
    message('dma-write-rep', DMA_WRITE, dma_access(0x200000, 4), F_REPLY)
    message('reset', RESET, b'')
    message('write-multi', WRITE_MULTI, write_multi([(8, 0, le32(1)), (0x40, 0, le32(5))]))
    message('feature', FEATURE, feature(0x10000 | 1))
    message('error-rep', REGION_READ, b'', F_REPLY | F_ERROR, error=22)
    message('no-reply', REGION_WRITE, region_access(0, 0x40, 4, le32(9)), F_NO_REPLY)

    s['version-bytes'] = b'\x01' + version_payload(
        {'max_msg_fds': 8, 'max_data_xfer_size': 1048576, 'pgsizes': 4096, 'max_dma_maps': 1000,
         'twin_socket': {'supported': True, 'fd_index': 0}, 'write_multiple': True,
         'migration': {'pgsize': 4096, 'max_bitmap_size': 1 << 20}})
    s['version-bytes-empty'] = b'\x01' + struct.pack('<HH', 0, 2) + b'{}\0'
    s['version-value'] = b'\x02' + struct.pack('<HHB', 0, 2, 0) + bytes([0x7f]) + le32(8) + \
        le64(1 << 20) + le64(65535) + le64(4096) + b'\1' + le32(0) + b'\1' + le64(4096) + le64(0)
    s['dma-map'] = b'\x03' + dma_map(0x100000, 0x10000)
    s['dma-unmap'] = b'\x04' + dma_unmap(0x100000, 0x10000)
    s['device-info'] = b'\x05' + dev_info()
    s['region-info-chain'] = b'\x46' + region_info(9, 0x2000, 7, 0x1000, [(0, 0x1000), (0x1000, 0x1000)],
                                                   (3, 4))
    s['region-info-truncated'] = b'\x16' + region_info(9, 0x2000, 7, 0, [(0, 0x1000)], argsz=80)[:32]
    s['region-info-value'] = b'\x07' + bytes([4, 0]) + struct.pack('<IIIIQQ', 32, 7, 2, 0, 0x10000, 0) + \
        bytes([2]) + le64(0) + le64(0x1000) + le64(0x2000) + le64(0x1000) + b'\1' + le32(1) + le32(2) + b'\0'
    s['irq-info'] = b'\x08' + irq_info(2, 4)
    s['irq-set'] = b'\x09' + irq_set(0x22, 2, 0, 2, b'\1\1')
    s['region-access-data'] = b'\x1a' + region_access(7, 4, 2, b'\x06\x00')
    s['region-access'] = b'\x0a' + region_access(7, 0, 256)
    s['dma-access-data'] = b'\x1b' + dma_access(0x1000, 8, b'01234567')
    s['dma-access'] = b'\x0b' + dma_access(0x1000, 8)
    s['write-multi'] = b'\x0c' + write_multi([(0, 0, b'\1\2\3\4'), (4, 1, b'x' * 8)])
    s['feature'] = b'\x0d' + feature(0x20000 | 3, b'\0' * 8)
    s['table'] = b'\x0e' + le16(VERSION)
    return s


# --- fuzz_emu -----------------------------------------------------------------

EMU_OWN_VERSION, EMU_TWIN, EMU_WRITE_MULTI, EMU_FZDEV, EMU_SMALL_XFER, EMU_FEW_MAPS = \
    1, 2, 4, 8, 0x10, 0x20
K_MEMFD, K_RO_MEMFD, K_EVENTFD, K_PIPE, K_SMALL_MEMFD, K_OPATH, K_ZERO = range(1, 8)


def rec(m, fds=0, nfds=1, split=False, raw=False, no_dispatch=False):
    counts = {1: 0, 2: 1, 3: 2, 17: 3}
    ctl = fds | counts[nfds] << 3 | (0x20 if raw else 0) | (0x40 if split else 0) | \
        (0x80 if no_dispatch else 0)
    return bytes([ctl]) + le16(len(m)) + m


def emu(flags, recs, answers=b'\0\0\0\0'):
    return bytes([flags]) + answers + b''.join(recs)


def emu_seeds():
    s = {}
    mid = [0]

    def m(cmd, payload=b'', flags=0):
        mid[0] += 1
        return msg(cmd, payload, flags, mid[0])

    def cfgw(off, data):
        return rec(m(REGION_WRITE, region_access(7, off, len(data), data)))

    def barw(bar, off, v):
        return rec(m(REGION_WRITE, region_access(bar, off, 4, le32(v))))

    discover = [rec(m(GET_INFO, dev_info(0, 0, 0)))] + \
        [rec(m(GET_REGION_INFO, struct.pack('<IIIIQQ', 256, 0, i, 0, 0, 0))) for i in range(10)] + \
        [rec(m(GET_IRQ_INFO, irq_info(i, 0, 0))) for i in range(5)]
    s['discover'] = emu(0, discover)
    s['discover-fzdev'] = emu(EMU_FZDEV, discover + [rec(m(GET_REGION_INFO, struct.pack(
        '<IIIIQQ', 256, 0, 10, 0, 0, 0)))])
    s['config-read'] = emu(0, [rec(m(REGION_READ, region_access(7, 0, 256))),
                               rec(m(REGION_READ, region_access(7, 0x100, 0x100)))])
    # Map memory with an fd, enable the device, copy 256 bytes, raise MSI-X vector 0.
    dma_copy = [rec(m(DMA_MAP, dma_map(0x100000, 0x10000)), K_MEMFD),
                cfgw(4, le16(6)),
                rec(m(SET_IRQS, irq_set(0x24, 2, 0, 1)), K_EVENTFD),
                barw(0, 0x10, 0x100000), barw(0, 0x14, 0), barw(0, 0x18, 0x108000),
                barw(0, 0x1c, 0), barw(0, 0x20, 0x100), barw(0, 0x24, 0),
                barw(0, 0x44, 0x10f000), barw(0, 0x08, 3),
                rec(m(REGION_READ, region_access(0, 0x0c, 4))),
                rec(m(DMA_UNMAP, dma_unmap(0x100000, 0x10000)))]
    s['dma-copy-memfd'] = emu(0, dma_copy)
    # The same through memory without an fd: the device asks the client (DMA_READ/WRITE).
    s['dma-copy-socket'] = emu(0, [rec(m(DMA_MAP, dma_map(0x200000, 0x4000))), cfgw(4, le16(6)),
                                   barw(0, 0x10, 0x200000), barw(0, 0x18, 0x202000),
                                   barw(0, 0x20, 0x1000), barw(0, 0x08, 1),
                                   rec(m(REGION_READ, region_access(0, 0x0c, 4)))])
    s['dma-copy-twin'] = emu(EMU_TWIN, [rec(m(DMA_MAP, dma_map(0x200000, 0x4000))), cfgw(4, le16(6)),
                                        barw(0, 0x10, 0x200000), barw(0, 0x18, 0x201000),
                                        barw(0, 0x20, 0x800), barw(0, 0x08, 1)],
                             answers=b'\0\1\3\4')
    s['dma-fault'] = emu(0, [cfgw(4, le16(6)), barw(0, 0x10, 0xdead000), barw(0, 0x20, 64),
                             barw(0, 0x08, 3), rec(m(REGION_READ, region_access(0, 0x28, 8)))])
    # fzdev: every model-side call through its doorbell.
    fz = [rec(m(DMA_MAP, dma_map(0x100000, 0x10000)), K_MEMFD),
          rec(m(DMA_MAP, dma_map(0x300000, 0x2000))), cfgw(4, le16(7)),
          rec(m(SET_IRQS, irq_set(0x24, 2, 0, 2)), K_EVENTFD, 2)]
    for op, iova in ((1, 0x100000), (2, 0x100800), (3, 0x100000), (4, 0x100000), (5, 0x300000),
                     (1, 0x300000), (2, 0x301000), (6, 0), (7, 0), (8, 0), (9, 0)):
        fz += [rec(m(REGION_WRITE, region_access(0, 0, 8, le64(iova)))),
               rec(m(REGION_WRITE, region_access(0, 8, 8, le32(0x200) + bytes([3, 0, 2, 1])))),
               rec(m(REGION_WRITE, region_access(0, 0x10, 3, le16(0x40) + b'\x04'))),
               rec(m(REGION_WRITE, region_access(0, 0x20, 1, bytes([op]))))]
    s['fzdev-ops'] = emu(EMU_FZDEV, fz)
    s['fzdev-bars'] = emu(EMU_FZDEV, [rec(m(REGION_READ, region_access(2, 0, 0x1000))),
                                      rec(m(REGION_WRITE, region_access(2, 0x10, 4, b'abcd'))),
                                      rec(m(REGION_READ, region_access(4, 0, 256))),
                                      rec(m(REGION_WRITE, region_access(4, 0, 4, b'nope'))),
                                      rec(m(REGION_READ, region_access(6, 0, 64))),
                                      rec(m(REGION_READ, region_access(9, 0, 64))),
                                      rec(m(REGION_WRITE, region_access(10, 0x20, 1, b'\x06'))),
                                      rec(m(REGION_READ, region_access(1, 0, 16)))])
    s['irqs'] = emu(0, [rec(m(SET_IRQS, irq_set(0x24, 0, 0, 1)), K_EVENTFD),
                        rec(m(SET_IRQS, irq_set(0x22, 0, 0, 1, b'\1'))),
                        rec(m(SET_IRQS, irq_set(0x28, 0, 0, 1))),
                        rec(m(SET_IRQS, irq_set(0x30, 0, 0, 1))),
                        rec(m(SET_IRQS, irq_set(0x24, 2, 0, 4)), K_EVENTFD, 3),
                        rec(m(SET_IRQS, irq_set(0x21, 2, 0, 4))),
                        rec(m(SET_IRQS, irq_set(0x24, 2, 0, 0)))])
    s['reset'] = emu(0, [cfgw(4, le16(6)), barw(0, 0x40, 0x55aa), rec(m(RESET)),
                         rec(m(REGION_READ, region_access(0, 0x40, 4))),
                         rec(m(REGION_READ, region_access(7, 4, 2)))])
    s['unmap-all'] = emu(EMU_FEW_MAPS, [rec(m(DMA_MAP, dma_map(0x1000 * i, 0x1000)), K_MEMFD)
                                        for i in range(1, 6)] +
                         [rec(m(DMA_UNMAP, dma_unmap(0, 0, 2)))])
    s['write-multi'] = emu(EMU_WRITE_MULTI, [rec(m(WRITE_MULTI, write_multi(
        [(4, 7, le16(6)), (0x40, 0, le32(7)), (0x44, 0, le32(0))])))])
    s['feature'] = emu(0, [rec(m(FEATURE, feature(0x40000 | 1))), rec(m(FEATURE, feature(0x10000 | 2)))])
    s['own-version'] = emu(EMU_OWN_VERSION, [rec(m(VERSION, version_payload())),
                                             rec(m(GET_INFO, dev_info(0, 0, 0)))])
    s['own-version-twin'] = emu(EMU_OWN_VERSION, [rec(m(VERSION, version_payload(
        {'max_msg_fds': 8, 'twin_socket': {'supported': True}}))), rec(m(GET_INFO, dev_info(0, 0, 0)))])
    s['bad-fds'] = emu(0, [rec(m(DMA_MAP, dma_map(0x1000, 0x1000)), K_PIPE),
                           rec(m(DMA_MAP, dma_map(0x2000, 0x1000)), K_OPATH),
                           rec(m(DMA_MAP, dma_map(0x3000, 0x1000)), K_RO_MEMFD),
                           rec(m(DMA_MAP, dma_map(0x4000, 0x2000)), K_SMALL_MEMFD),
                           rec(m(DMA_MAP, dma_map(0x5000, 0x1000, 3, 0x1000)), K_ZERO),
                           rec(m(GET_INFO, dev_info(0, 0, 0)), K_EVENTFD, 17)])
    s['garbage'] = emu(0, [rec(b'\xff' * 24, raw=True), rec(m(GET_INFO, dev_info(0, 0, 0)))])
    s['split'] = emu(EMU_SMALL_XFER, [rec(m(REGION_READ, region_access(2, 0, 0x2000)), split=True),
                                      rec(m(REGION_WRITE, region_access(2, 0, 8, b'x' * 8)),
                                          no_dispatch=True),
                                      rec(m(REGION_READ, region_access(2, 0, 8)))])
    return s


# --- fuzz_cfgspace ------------------------------------------------------------


def step(kind, off, ln, val=b'\0\0\0\0'):
    return bytes([kind]) + le16(off) + bytes([ln]) + val


def cfgspace_seeds():
    s = {}
    rd = lambda off, ln: step(3, off, ln)
    wr = lambda off, ln, v: step(0, off, ln, v)
    hdr_reads = b''.join(rd(o, 4) for o in range(0, 0x40, 4))
    for dev, name in ((0, 'dma'), (1, 'fzdev')):
        s[name + '-header'] = bytes([dev]) + hdr_reads
        s[name + '-size-bars'] = bytes([dev]) + b''.join(step(5, b, 4) for b in range(7))
        s[name + '-enable'] = bytes([dev]) + wr(4, 2, b'\x07\x05\0\0') + wr(0x10, 4, b'\0\0\xfe\xff') + \
            wr(0x3c, 1, b'\x0b\0\0\0') + rd(4, 4) + rd(0x10, 4) + step(6, 0, 0) + rd(4, 4)
        s[name + '-caps'] = bytes([dev]) + b''.join(rd(o, 8) for o in range(0x40, 0x100, 8))
        s[name + '-ext'] = bytes([dev]) + b''.join(rd(o, 4) for o in range(0x100, 0x180, 4)) + \
            rd(0xffc, 4) + step(4, 0xffd, 4)
        s[name + '-far'] = bytes([dev]) + step(7, 0x10, 4, b'\1\1\0\0') + step(7, 0x20, 8, b'\0\0\0\0') + \
            step(0, 0x1000, 4, b'\xff\xff\xff\xff') + step(3, 0xffe, 4)
        s[name + '-long'] = bytes([dev]) + step(3, 0, 0xf2) + step(0, 0x40, 0xf1, b'\xff\0\xff\0')
        s[name + '-fuzzwrites'] = bytes([dev]) + b''.join(wr(o, 4, b'\xff\xff\xff\xff')
                                                          for o in range(0x40, 0x100, 4))
    # The capabilities of the dma device (PM at 0x40, MSI-X, PCIe) poked as a driver would.
    s['dma-pm-d3'] = b'\0' + b''.join(wr(o, 2, b'\x03\0\0\0') for o in range(0x40, 0x80, 4)) + \
        b''.join(rd(o, 2) for o in range(0x40, 0x80, 4)) + step(6, 0, 0)
    s['dma-msix-enable'] = b'\0' + b''.join(wr(o, 2, b'\0\xc0\0\0') for o in range(0x40, 0xa0, 4))
    s['dma-flr'] = b'\0' + b''.join(wr(o, 2, b'\0\x80\0\0') for o in range(0x48, 0xc0, 4))
    s['fzdev-hooks'] = b'\1' + b''.join(wr(o, 1, bytes([o, o, o, o])) for o in range(0x40, 0x100, 3)) + \
        b''.join(rd(o, 4) for o in range(0x40, 0x100, 4))
    return s


# --- fuzz_dmatable ------------------------------------------------------------


def dmat_map(page, pages, prot=3, kind=0, offpage=0, top=False, big=False, e=0):
    c = prot & 3 | (4 if prot & 4 else 0) | kind << 3 | (0x80 if top else 0)
    b = pages & 0x3f | (0x40 if big else 0)
    return bytes([0]) + le16(page) + le16(offpage) + bytes([b, c, e])


def dmatable_seeds():
    s = {}
    K_MEMA, K_MEMA_RO, K_MEMB, K_EVENTFD, K_PIPE, K_OPATH, K_ZERO = range(1, 8)
    lookup = lambda how, v: bytes([7, how]) + le32(v)
    unmap = lambda how, v: bytes([4, how]) + le32(v)
    walk = bytes([10])
    s['map-lookup-unmap'] = bytes([8]) + dmat_map(1, 4) + dmat_map(8, 2, 1, K_MEMA, 3) + \
        lookup(0, 0) + lookup(0, 1 << 9 | 1) + bytes([9, 2]) + bytes([0]) + le32(0) + bytes([0]) + \
        le32(1) + bytes([0]) + le32(5 << 9) + walk + unmap(0, 0) + unmap(0, 1) + walk
    s['overlaps'] = bytes([16]) + dmat_map(10, 4) + dmat_map(12, 4) + dmat_map(8, 3) + \
        dmat_map(10, 4) + dmat_map(14, 1) + dmat_map(9, 1) + walk
    s['limit'] = bytes([2]) + dmat_map(1, 1) + dmat_map(2, 1) + dmat_map(3, 1) + bytes([0x83, 1]) + \
        dmat_map(4, 1) + walk
    s['fds'] = bytes([64]) + b''.join(dmat_map(8 * k, 2, 3, k, 1) for k in range(1, 8)) + \
        b''.join(dmat_map(8 * k + 64, 2, 1, k, 0) for k in range(1, 8)) + walk
    s['eof'] = bytes([64]) + dmat_map(1, 8, 3, K_MEMB, 0) + dmat_map(20, 1, 3, K_MEMB, 1) + \
        dmat_map(30, 60, 3, K_MEMA, 10) + walk
    s['top'] = bytes([64]) + dmat_map(0, 1, top=True) + dmat_map(4, 2, top=True) + \
        dmat_map(0, 2, big=True) + lookup(0xf0, 0) + lookup(0xf0, 4095) + walk
    s['unaligned'] = bytes([64]) + bytes([0]) + le16(1) + le16(0) + bytes([1, 0x43, 0x05]) + walk
    s['unmap-all'] = bytes([64]) + b''.join(dmat_map(i * 2, 1, 3, K_MEMA if i & 1 else 0, i)
                                            for i in range(20)) + bytes([0x86]) + walk
    s['find-exact'] = bytes([64]) + dmat_map(5, 3) + bytes([5, 0]) + le32(0) + bytes([5, 1]) + le32(0) + \
        bytes([5, 4]) + le32(0) + bytes([4, 3]) + le32(0)
    s['many'] = bytes([0x80]) + b''.join(dmat_map(i * 3, 2, 1 + i % 3, K_MEMA if i % 4 == 0 else 0,
                                                  i % 60) for i in range(60)) + \
        bytes([9, 39]) + b''.join(bytes([i * 4]) + le32(i * 1000) for i in range(40)) + walk
    return s


# --- fuzz_vfio_user -----------------------------------------------------------

VU_STRUCT, VU_PAYLOAD, VU_ERROR, VU_RAW, VU_STRAY, VU_DMA, VU_SILENT, VU_HANGUP = range(8)


def vrec(mode, data=b'', fd=None, split=False):
    ctl = mode | (8 | fd << 4 if fd is not None else 0) | (0x40 if split else 0)
    return bytes([ctl]) + le16(len(data)) + data


def plan(*ops):
    b = b''.join(bytes(o) for o in ops)
    return b.ljust(24, b'\x07')  # 7: dispatch


def vu_dma(write, area, off, count, data=b'', twin=False, small=False):
    sel = (1 if write else 0) | (2 if twin else 0) | area << 2 | (0x80 if small else 0)
    return vrec(VU_DMA, bytes([sel]) + le32(off) + le16(count) + data)


def vfio_user_seeds():
    s = {}
    # The client's requests come in this order: VERSION, GET_INFO, DMA_MAP A, DMA_MAP B,
    # GET_REGION_INFO of each region, then what the plan asks for, and DMA_UNMAPs at close.
    version = vrec(VU_STRUCT, bytes([0, 0x0f, 8, 8]) + le32(1000))
    version_twin = vrec(VU_STRUCT, bytes([0x04, 0x1f, 8, 8]) + le32(1000))
    info = vrec(VU_STRUCT, bytes([9, 3, 5]))
    maps = [vrec(VU_STRUCT), vrec(VU_STRUCT)]
    # Regions 0-9 of a PCI device: BAR0 4 KiB, BAR2 64 KiB mmap-able in part, config space.
    regions = [vrec(VU_STRUCT, bytes([0, 3, 2])),
               vrec(VU_STRUCT, bytes([0, 0, 0])),
               vrec(VU_STRUCT, bytes([0x08, 7, 4]) + bytes([0, 2])),
               vrec(VU_STRUCT, bytes([0, 0, 0]))] + [vrec(VU_STRUCT, bytes([0, 0, 0]))] * 3 + \
        [vrec(VU_STRUCT, bytes([0, 3, 2]))] + [vrec(VU_STRUCT, bytes([0, 0, 0]))] * 2
    head = version + info
    opening = head + b''.join(maps) + b''.join(regions)
    rd = lambda reg, off, ln: (0, reg | ln << 4, off)
    wr = lambda reg, off, ln: (1, reg | ln << 4, off)
    ok = vrec(VU_STRUCT)
    s['open-close'] = bytes([0]) + plan() + opening
    s['open-nothing'] = b''
    s['read-write'] = bytes([0]) + plan(rd(0, 1, 2), wr(0, 2, 2), rd(7, 0, 4), rd(2, 0x41, 5),
                                        (2, 0, 0), (3, 1, 0x10), (3, 0, 0x11), (6, 0, 0)) + \
        opening + ok * 8
    s['irqs'] = bytes([0]) + plan((4, 2, 0), (5, 2, 1), (4, 0, 0), (5, 0, 0)) + opening + \
        vrec(VU_STRUCT, bytes([4, 3])) + vrec(VU_STRUCT, bytes([4, 3])) + ok * 3
    s['mmap'] = bytes([0]) + plan((8, 2, 0), (8, 2, 0)) + head + b''.join(maps) + \
        b''.join(regions[:2]) + vrec(VU_STRUCT, bytes([0x08, 7, 4]) + bytes([0, 2]), fd=0) + \
        b''.join(regions[3:])
    s['dma-requests'] = bytes([0]) + plan((7, 0, 0), rd(0, 0, 2)) + head + ok + \
        vu_dma(False, 0, 0x100, 64) + vu_dma(True, 0, 0x200, 8, b'ABCDEFGH') + \
        vu_dma(False, 0, 0x1f8, 24) + vu_dma(False, 3, 0x10, 32) + vu_dma(True, 3, 0x10, 4, b'nope') + \
        vu_dma(False, 6, 0x1234, 16) + vu_dma(False, 7, 8, 16) + ok + b''.join(regions)
    s['dma-twin'] = bytes([0]) + plan((7, 0, 0), (7, 1, 0)) + version_twin + info + ok + \
        vu_dma(False, 0, 0x10, 16, twin=True) + vu_dma(True, 0, 0x10, 4, b'wxyz', twin=True) + \
        vu_dma(False, 0, 0x10, 16, twin=True) + ok + b''.join(regions)
    s['dma-during-read'] = bytes([0]) + plan(rd(0, 0, 1)) + opening + ok + vu_dma(False, 0, 0, 4000) + ok
    s['errors'] = bytes([0]) + plan(rd(0, 0, 2), wr(0, 0, 2), (6, 0, 0)) + head + \
        vrec(VU_ERROR, b'\x16') + ok + b''.join(regions) + \
        vrec(VU_ERROR, b'\x05') + vrec(VU_ERROR, b'\x80\xff\xff\xff\xff') + vrec(VU_ERROR, b'\0')
    s['silence'] = bytes([0]) + plan(rd(0, 0, 2), rd(0, 0, 2)) + opening + vrec(VU_SILENT) + ok
    s['stray'] = bytes([0]) + plan(rd(0, 0, 2)) + version + vrec(VU_STRAY, b'\x00') + \
        vrec(VU_STRAY, b'\x01\x01\x0b') + info + b''.join(maps) + b''.join(regions)
    s['hangup'] = bytes([0]) + plan(rd(0, 0, 2)) + opening + vrec(VU_HANGUP)
    s['bad-version'] = bytes([1]) + plan() + vrec(VU_PAYLOAD, version_payload(minor=9)[:-1])
    s['version-json'] = bytes([0]) + plan() + vrec(VU_PAYLOAD, version_payload(
        {'max_msg_fds': 4, 'max_data_xfer_size': 4096, 'pgsizes': 4096 | 1 << 21,
         'twin_socket': {'supported': False}}))
    s['version-twin-nofd'] = bytes([0]) + plan() + vrec(VU_PAYLOAD, version_payload(
        {'twin_socket': {'supported': True, 'fd_index': 0}}))
    s['version-twin-eventfd'] = bytes([0]) + plan() + vrec(VU_PAYLOAD, version_payload(
        {'twin_socket': {'supported': True, 'fd_index': 0}}), fd=1)
    s['raw-garbage'] = bytes([0]) + plan() + vrec(VU_RAW, hdr(VERSION, 16, F_REPLY) + b'\xff' * 8)
    s['small-xfer'] = bytes([0]) + plan(rd(2, 0, 6), wr(2, 0, 6)) + \
        vrec(VU_STRUCT, bytes([1, 0x0f, 8]) + le32(64) + le32(1000)) + info + b''.join(maps) + \
        b''.join(regions)
    s['many-regions'] = bytes([0]) + plan() + version + vrec(VU_STRUCT, bytes([0x80, 3]) + le32(100000))
    s['split-replies'] = bytes([0]) + plan(rd(7, 0, 3)) + \
        vrec(VU_STRUCT, bytes([0, 0x0f, 8, 8]), split=True) + info + b''.join(maps) + b''.join(regions)
    s['container-map'] = bytes([0]) + plan((9, 0, 1), (9, 0, 2)) + opening + \
        ok + vu_dma(True, 5, 0, 8, b'cccccccc') + ok
    s['region-caps'] = bytes([0]) + plan((8, 2, 0)) + head + b''.join(maps) + b''.join(regions[:2]) + \
        vrec(VU_STRUCT, bytes([0x1c, 7, 4, 0, 1, 2, 1, 9, 9]), fd=0) + b''.join(regions[3:])
    return s


# --- fuzz_pcicaps -------------------------------------------------------------


def cap_std(cfg, off, cid, nxt, body):
    cfg[off] = cid
    cfg[off + 1] = nxt
    cfg[off + 2:off + 2 + len(body)] = body


def cap_ext(cfg, off, cid, ver, nxt, body):
    cfg[off:off + 4] = le32(cid | ver << 16 | nxt << 20)
    cfg[off + 4:off + 4 + len(body)] = body


def pci_header(cfg, vendor, device, cls, htype=0, status=0x10, bars=()):
    cfg[0:4] = le16(vendor) + le16(device)
    cfg[4:8] = le16(0x0406) + le16(status)
    cfg[8:12] = le32(cls << 8 | 1)
    cfg[0x0e] = htype
    for i, v in enumerate(bars):
        cfg[0x10 + 4 * i:0x14 + 4 * i] = le32(v)
    cfg[0x2c:0x30] = le16(0x1af4) + le16(0x1100)
    cfg[0x34] = 0x40 if status & 0x10 else 0
    cfg[0x3c] = 11
    cfg[0x3d] = 1


def pcie_endpoint():
    cfg = bytearray(4096)
    pci_header(cfg, 0x1234, 0x4d41, 0x010802, bars=(0xfe000004, 0, 0xfd00000c, 0, 0xc001, 0))
    cap_std(cfg, 0x40, 0x01, 0x50, le16(0x0003) + le16(0x0008))                      # PM
    cap_std(cfg, 0x50, 0x05, 0x70, le16(0x0184) + le32(0xfee00000) + le32(0) + le16(0x4021))  # MSI 64
    cap_std(cfg, 0x70, 0x10, 0xb0, le16(0x0002) + le32(0x8fc0) + le16(0x2810) + le16(0) +
            le32(0x00437c43) + le16(0x1040) + le16(0x1043) + b'\0' * 20 + le32(0x70013))
    cap_std(cfg, 0xb0, 0x11, 0xc0, le16(0x0007) + le32(0x00002000 | 2) + le32(0x00003000 | 2))  # MSI-X
    cap_std(cfg, 0xc0, 0x09, 0x00, bytes([12, 1]) + b'vendor!!')                    # vendor
    cap_ext(cfg, 0x100, 0x0001, 2, 0x148, le32(0) * 4 + le32(0x2000) + le32(0xe000))   # AER
    cap_ext(cfg, 0x148, 0x0003, 1, 0x158, le64(0x0123456789abcdef))                  # DSN
    cap_ext(cfg, 0x158, 0x000d, 1, 0x160, le16(0x5f) + le16(0x1d))                   # ACS
    cap_ext(cfg, 0x160, 0x0010, 1, 0x1a0, le32(0) + le16(0) + le16(0) + le16(4) + le16(8) +
            le16(0) + le16(0) + le16(0x80) + le16(2) + b'\0' * 8)                       # SR-IOV
    cap_ext(cfg, 0x1a0, 0x000b, 1, 0x000, le32(0x01000010 | 5) + b'vsec data')        # VSEC
    return cfg


def pcicaps_seeds():
    s = {}
    sizes_real = bytes([3, 0, 4, 0, 2, 0, 3])  # 4 KiB, -, 64 KiB, -, 4 KiB, -, ROM 4 KiB
    img = pcie_endpoint()
    s['pcie-endpoint'] = b'\0\0' + sizes_real + bytes(img)
    s['pcie-endpoint-256'] = b'\x80\0' + sizes_real + bytes(img[:256])
    conv = bytearray(256)
    pci_header(conv, 0x8086, 0x100e, 0x020000, bars=(0xfebc0000, 0, 0, 0, 0, 0xc041))
    cap_std(conv, 0xdc, 0x01, 0xe4, le16(0x0022) + le16(0x2000))
    cap_std(conv, 0xe4, 0x07, 0x00, b'\0' * 6)  # PCI-X
    conv[0x34] = 0xdc
    s['conventional'] = b'\x80\0' + bytes([4, 0, 0, 0, 0, 1, 0]) + bytes(conv)
    bridge = bytearray(256)
    pci_header(bridge, 0x1022, 0x1453, 0x060400, htype=0x81)
    cap_std(bridge, 0x40, 0x10, 0x00, le16(0x0042) + le32(0) * 8)
    s['bridge'] = b'\x80\0' + bytes(7) + bytes(bridge)
    loop = pcie_endpoint()
    loop[0xc1] = 0x40                                  # the standard list loops
    loop[0x1a0:0x1a4] = le32(0x000b | 1 << 16 | 0x100 << 20)  # and so does the extended one
    s['loops'] = b'\0\0' + sizes_real + bytes(loop)
    bad = pcie_endpoint()
    bad[0x34] = 0x3d                                   # into the header, unaligned
    bad[0x102:0x104] = le16(0xfff1)                    # next pointer past the end
    s['bad-pointers'] = b'\0\0' + sizes_real + bytes(bad)
    s['ones'] = b'\0\0' + bytes(7) + b'\xff' * 4096
    s['short'] = b'\xf3\x02' + sizes_real + bytes(img[:0x40])
    s['msix-outside'] = b'\0\0' + bytes([0xc0 | 12, 0, 0, 0, 0, 0, 0]) + bytes(img)
    s['msi-32'] = b'\x80\0' + sizes_real + bytes(img[:0x50]) + bytes([5, 0x70, 0x80, 0]) + le32(0xfee00000) + \
        le16(0x4021) + bytes(img[0x5a:256])
    return s


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, 'corpus')
    for target, gen in (('proto', proto_seeds), ('emu', emu_seeds), ('cfgspace', cfgspace_seeds),
                        ('dmatable', dmatable_seeds), ('vfio_user', vfio_user_seeds),
                        ('pcicaps', pcicaps_seeds)):
        d = os.path.join(out, target)
        os.makedirs(d, exist_ok=True)
        for name, data in gen().items():
            with open(os.path.join(d, name), 'wb') as f:
                f.write(data)
        print(f'{target}: {len(gen())} seeds in {d}')


if __name__ == '__main__':
    main()
