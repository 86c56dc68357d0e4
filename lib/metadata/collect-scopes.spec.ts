import 'reflect-metadata';
import { MetadataScanner, Reflector, type DiscoveryService } from '@nestjs/core';
import { AnyScope, Scopes } from '../decorators/scopes.decorator.js';
import { collectScopes } from './collect-scopes.js';

@Scopes('b:class')
class Controller {
  @Scopes('z:handler', 'a:handler')
  one() {}

  @AnyScope('a:handler', 'm:any')
  two() {}

  get getter(): never {
    throw new Error('a getter is never read');
  }
}

class Base {
  @Scopes('inherited')
  base() {}
}
class Child extends Base {}

/** A class whose prototype cannot even be listed. */
const hostile = function Hostile() {} as unknown as { prototype: object };
hostile.prototype = new Proxy(
  {},
  {
    ownKeys() {
      throw new Error('no');
    },
  },
);

const wrapper = (metatype: unknown, inject?: unknown[]) => ({ metatype, inject });

function discovery(controllers: unknown[], providers: unknown[]): DiscoveryService {
  return {
    getControllers: () => controllers,
    getProviders: () => providers,
  } as unknown as DiscoveryService;
}

describe('collectScopes', () => {
  it('reads classes and methods, inherited ones too, sorted and deduplicated', () => {
    const scopes = collectScopes(
      discovery([wrapper(Controller)], [wrapper(Child), wrapper(Controller)]),
      new MetadataScanner(),
      new Reflector(),
    );
    expect(scopes).toEqual(['a:handler', 'b:class', 'inherited', 'm:any', 'z:handler']);
  });

  it('skips factories, values and classes it cannot read, without failing', () => {
    // A factory provider's metatype is its function, which has a prototype like a class.
    const factory = function useFactory() {};
    Reflect.defineMetadata('oidc-resource:scopes', ['from:factory'], factory);
    const scopes = collectScopes(
      discovery(
        [wrapper(hostile)],
        [wrapper(factory, []), wrapper(null), wrapper(undefined), wrapper(Controller)],
      ),
      new MetadataScanner(),
      new Reflector(),
    );
    expect(scopes).toEqual(['a:handler', 'b:class', 'm:any', 'z:handler']);
  });
});
