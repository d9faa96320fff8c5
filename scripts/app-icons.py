#!/usr/bin/env python3
# Run from the repository root: python3 scripts/app-icons.py (writes static/icons/).
"""Draws Steadfast's app icon: six steps rising (the six levels of support), white on blue."""
import struct, zlib
BLUE=(0x1f,0x5f,0xa8); WHITE=(255,255,255)
def steps(size):
    # Six bars on a 24-unit grid: x from 3 to 21, each 3 wide, heights rising.
    rows=[]
    u=size/24
    for y in range(size):
        row=bytearray([0])
        for x in range(size):
            gx, gy = x/u, y/u
            c=BLUE
            if 3<=gx<21 and gy<21:
                i=int((gx-3)//3)
                top=21-(i+1)*3
                if gy>=top and (gx-3)%3 < 2.6:
                    c=WHITE
            row+=bytes(c)
        rows.append(bytes(row))
    raw=b''.join(rows)
    def chunk(t,d): return struct.pack('>I',len(d))+t+d+struct.pack('>I',zlib.crc32(t+d)&0xffffffff)
    return b'\x89PNG\r\n\x1a\n'+chunk(b'IHDR',struct.pack('>IIBBBBB',size,size,8,2,0,0,0))+chunk(b'IDAT',zlib.compress(raw,9))+chunk(b'IEND',b'')
for s in (192,512):
    open(f'static/icons/icon-{s}.png','wb').write(steps(s))
svg=['<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24">','<rect width="24" height="24" fill="#1f5fa8"/>']
for i in range(6):
    top=21-(i+1)*3
    svg.append(f'<rect x="{3+3*i}" y="{top}" width="2.6" height="{21-top}" fill="#fff"/>')
svg.append('</svg>')
open('static/icons/icon.svg','w').write('\n'.join(svg)+'\n')
