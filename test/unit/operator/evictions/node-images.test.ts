import { expect } from 'chai';
import { indexNodeImages, tagKey } from '../../../../src/operator/evictions/node-images.js';

const d = (c: string): string => `sha256:${c.repeat(64)}`;

describe('operator node images (status.images)', () => {
  it('maps each repo:tag name to the repository digests of its own entry', () => {
    const index = indexNodeImages({
      status: {
        images: [
          { names: ['127.0.0.1:5000/shop/app:v1', `127.0.0.1:5000/shop/app@${d('a')}`], sizeBytes: 10 },
          {
            names: [
              `docker.io/library/nginx@${d('b')}`,
              'docker.io/library/nginx:1.25',
              'docker.io/library/nginx:1',
            ],
            sizeBytes: 9,
          },
        ],
      },
    });
    expect(index.listed).to.equal(2);
    expect(Object.fromEntries(index.tags)).to.deep.equal({
      '127.0.0.1:5000/shop/app:v1': [d('a')],
      'docker.io/library/nginx:1.25': [d('b')],
      'docker.io/library/nginx:1': [d('b')],
    });
  });

  it("prefers the tag's own repository's digests, else any the entry names (content addresses)", () => {
    const index = indexNodeImages({
      status: {
        images: [
          { names: ['reg.test/a:1', `reg.test/a@${d('a')}`, `mirror.test/a@${d('c')}`] },
          { names: ['reg.test/b:1', `mirror.test/b@${d('d')}`] },
        ],
      },
    });
    expect(index.tags.get('reg.test/a:1')).to.deep.equal([d('a')]);
    expect(index.tags.get('reg.test/b:1')).to.deep.equal([d('d')]);
  });

  it('skips what is not a pull reference and survives a hostile status', () => {
    const index = indexNodeImages({
      status: {
        images: [
          { names: ['<none>@<none>', d('e'), 42, null, 'reg.test/ok:1', `reg.test/ok@${d('f')}`] },
          'junk',
          { names: 'not-a-list' },
        ],
      },
    });
    expect(index.listed).to.equal(3);
    expect([...index.tags.keys()]).to.deep.equal(['reg.test/ok:1']);
    expect(indexNodeImages({ status: { images: 'x' } }).listed).to.equal(0);
    expect(indexNodeImages(undefined).tags.size).to.equal(0);
  });

  it('names tags canonically, as the template is parsed', () => {
    expect(tagKey({ registry: 'docker.io', repository: 'library/nginx', tag: '1.25' })).to.equal(
      'docker.io/library/nginx:1.25',
    );
    const index = indexNodeImages({
      status: { images: [{ names: ['INDEX.DOCKER.IO/library/nginx:1.25'] }] },
    });
    expect([...index.tags.keys()]).to.deep.equal(['docker.io/library/nginx:1.25']);
  });
});
