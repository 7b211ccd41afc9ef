# Regenerates the .npy fixtures with NumPy's own writer (python3-numpy 1.24, Debian 12):
#   /usr/bin/python3 make_fixtures.py
import numpy as np
a = np.array([[3, 4, 0, 0], [0, 0, 2, 0], [1, 1, 1, 1]], dtype='<f4')
np.save('f4.npy', a)
np.save('f2.npy', a.astype('<f2'))
np.save('one.npy', a[0])
for v in [(2, 0), (3, 0)]:
    with open('v%d.npy' % v[0], 'wb') as f:
        np.lib.format.write_array(f, a, version=v)
np.save('fortran.npy', np.asfortranarray(a))
np.save('big_endian.npy', a.astype('>f4'))
np.save('f8.npy', a.astype('<f8'))
