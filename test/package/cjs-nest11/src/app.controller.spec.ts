import { Test, TestingModule } from '@nestjs/testing';
import { SCOPES_METADATA_KEY, PUBLIC_METADATA_KEY } from 'nestjs-oidc-resource';
import { AppController } from './app.controller';

// A unit spec as `nest new` lays it out (rootDir src, the package.json jest block): it imports a
// controller that uses the package's decorators, which is what failed under ts-jest when the
// package was ESM-only ("Must use import to load ES Module").
describe('AppController', () => {
  let appController: AppController;

  beforeEach(async () => {
    const app: TestingModule = await Test.createTestingModule({
      controllers: [AppController],
    }).compile();

    appController = app.get<AppController>(AppController);
  });

  it('answers the health route', () => {
    expect(appController.health()).toEqual({ status: 'ok', runtime: 'cjs-nest11' });
  });

  it('carries the decorators’ metadata under the exported keys', () => {
    expect(Reflect.getMetadata(PUBLIC_METADATA_KEY, AppController.prototype.health)).toBe(true);
    expect(Reflect.getMetadata(SCOPES_METADATA_KEY, AppController.prototype.createNote)).toEqual([
      'api:write',
    ]);
  });
});
